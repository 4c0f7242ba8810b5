//! The supervisor: one task that watches every account's deadline and runs the checks.
//!
//! The first round reads every account with its stored schedule and files each under the time it
//! must be looked at again (its next check, or the next change of its shown state by the clock
//! alone) in an in-memory index. Every later round reads only the accounts whose time has come
//! and those the store says changed since the last round (a change number per account, bumped by
//! every write from any process: a login, a refresh by the CLI, an edit, a removal), so its cost
//! is O(due + changed), not O(accounts). For each account read it plans it anew if its session
//! changed since its plan was made, starts its check if due (every due check starts at once and
//! waits for one of `max_parallel` permits; one check per account), and emits `StateChanged` if
//! its shown state moved. It then sleeps until the index's earliest time, at most `max_sleep`, or
//! until the Manager wakes it (an account added, logged in, switched, a refresh asked for). A
//! finished check reports where its account stands, so it needs no round; wake-ups are gathered
//! into rounds at least 50 ms apart (250 ms while checks run). Deadlines are
//! wall-clock times in the store, so after a suspend, a restart or a clock jump (which makes the
//! next round read everything once) the round sees what is overdue and runs each such account's
//! check once (its plan is replaced by the next one, not replayed).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::host::{KeepAliveHost, Renewal, Watched};
use super::policy::{CheckKind, Plan, Policy};
use crate::error::{Error, ErrorCode};
use crate::model::State;
use crate::store::{AccountRow, Schedule, StoredState};

/// How the engine runs. `Default` is what the app uses.
#[derive(Debug, Clone)]
pub struct KeepAliveConfig {
    /// The longest sleep between two looks at the store (what another process changed is
    /// noticed at the latest then).
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

/// The shortest time between two rounds: wake-ups that come faster are gathered into one round.
const ROUND_GAP: Duration = Duration::from_millis(50);

/// The same while checks run: every renewal wakes the engine, though the check itself reports
/// its account (no round needed), so a burst of renewals costs a few rounds a second, not one
/// per renewal, however slow the secret store makes each.
const BUSY_ROUND_GAP: Duration = Duration::from_millis(250);

/// A difference this large between the wall clock and the monotonic clock since the last round
/// means a suspend or a clock change: the next round reads every account once.
const CLOCK_JUMP: TimeDelta = TimeDelta::seconds(5);

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
            permits: Arc::new(Semaphore::new(config.max_parallel.max(1))),
            config,
            wake: wake.clone(),
            stop: stop_rx,
            stats: stats.clone(),
            index: Index::default(),
            seq: None,
            last_look: None,
            stale: HashSet::new(),
            awaiting: HashSet::new(),
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
    rounds: AtomicU64,
    checks: AtomicU64,
    touched: AtomicU64,
    full_reads: AtomicU64,
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
            .field("touched", &self.touched())
            .field("full_reads", &self.full_reads())
            .finish()
    }
}

impl KeepAliveHandle {
    /// Look at the clock and the accounts now (e.g. after the machine woke up).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// How many rounds the engine ran (each asks the store what changed and reads the accounts
    /// that changed or are due).
    pub fn rounds(&self) -> u64 {
        self.stats.rounds.load(Ordering::Relaxed)
    }

    /// How many checks it started (refresh, re-login, validation, warning, expiry).
    pub fn checks(&self) -> u64 {
        self.stats.checks.load(Ordering::Relaxed)
    }

    /// How many accounts its rounds read in all (an account read in two rounds counts twice).
    pub fn touched(&self) -> u64 {
        self.stats.touched.load(Ordering::Relaxed)
    }

    /// How many of its rounds read every account (the first one, and those after a clock jump
    /// or a change of the warning window).
    pub fn full_reads(&self) -> u64 {
        self.stats.full_reads.load(Ordering::Relaxed)
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

/// What the engine remembers of one account between rounds.
#[derive(Debug)]
struct Entry {
    /// The account's change number when last read.
    seq: i64,
    /// The state last shown, to emit `StateChanged` on a change.
    state: State,
    /// When the account must be read again: its next check, the next change of its shown state
    /// by the clock alone, or the end of a pause, whichever comes first. `None`: only when it
    /// changes.
    at: Option<DateTime<Utc>>,
}

/// Every known account by the time it must be read again, so a round finds what is due without
/// looking at the others.
#[derive(Debug, Default)]
struct Index {
    entries: HashMap<String, Entry>,
    by_time: BTreeSet<(DateTime<Utc>, String)>,
}

impl Index {
    /// Records a read of the account; returns the state shown before, if it was known.
    fn saw(&mut self, id: &str, seq: i64, state: State) -> Option<State> {
        match self.entries.get_mut(id) {
            Some(e) => {
                e.seq = e.seq.max(seq);
                Some(std::mem::replace(&mut e.state, state))
            }
            None => {
                self.entries.insert(
                    id.to_owned(),
                    Entry {
                        seq,
                        state,
                        at: None,
                    },
                );
                None
            }
        }
    }

    fn set_at(&mut self, id: &str, at: Option<DateTime<Utc>>) {
        let Some(e) = self.entries.get_mut(id) else {
            return;
        };
        if let Some(old) = e.at.take() {
            self.by_time.remove(&(old, id.to_owned()));
        }
        e.at = at;
        if let Some(t) = at {
            self.by_time.insert((t, id.to_owned()));
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(e) = self.entries.remove(id)
            && let Some(t) = e.at
        {
            self.by_time.remove(&(t, id.to_owned()));
        }
    }

    /// Takes out every account whose time has come.
    fn take_due(&mut self, now: DateTime<Utc>) -> Vec<String> {
        let mut due = Vec::new();
        while let Some((t, _)) = self.by_time.first() {
            if *t > now {
                break;
            }
            let Some((_, id)) = self.by_time.pop_first() else {
                break;
            };
            if let Some(e) = self.entries.get_mut(&id) {
                e.at = None;
            }
            due.push(id);
        }
        due
    }

    fn next(&self) -> Option<DateTime<Utc>> {
        self.by_time.first().map(|(t, _)| *t)
    }

    fn seq(&self, id: &str) -> Option<i64> {
        self.entries.get(id).map(|e| e.seq)
    }
}

struct Engine {
    host: Arc<dyn KeepAliveHost>,
    config: KeepAliveConfig,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
    stats: Arc<EngineStats>,
    /// One permit per check that may run at once.
    permits: Arc<Semaphore>,
    index: Index,
    /// The highest change number seen; `None` until every account was read once.
    seq: Option<i64>,
    /// Wall and monotonic time of the last round (to notice a suspend or a clock change).
    last_look: Option<(DateTime<Utc>, Instant)>,
    /// Accounts to read in the next round whatever the change numbers say (a check ended
    /// without telling where the account stands, or a round failed after taking them out).
    stale: HashSet<String>,
    /// The accounts awaiting a login challenge at the last round.
    awaiting: HashSet<String>,
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
    /// Where the account stands after the check (read after it, with the plan it stored);
    /// `None` when that is unknown (the next round reads it).
    account: Option<Watched>,
    /// The account was removed meanwhile.
    removed: bool,
}

impl Engine {
    async fn run(mut self) {
        let mut checks: JoinSet<Done> = JoinSet::new();
        let mut look = true;
        let mut last_round: Option<Instant> = None;
        let mut retry_at: Option<DateTime<Utc>> = None;
        loop {
            if *self.stop.borrow() {
                break;
            }
            if look {
                let min_gap = if self.in_flight.is_empty() {
                    ROUND_GAP
                } else {
                    BUSY_ROUND_GAP
                };
                if let Some(gap) = last_round.and_then(|t| min_gap.checked_sub(t.elapsed())) {
                    tokio::select! {
                        _ = tokio::time::sleep(gap) => {}
                        _ = self.stop.changed() => continue,
                    }
                }
                last_round = Some(Instant::now());
                self.stats.rounds.fetch_add(1, Ordering::Relaxed);
                retry_at = match self.round(&mut checks).await {
                    Ok(()) => None,
                    Err(e) => {
                        tracing::warn!(error = %e.message, "keep-alive round failed");
                        Some(self.host.now() + TimeDelta::seconds(5))
                    }
                };
            }
            let now = self.host.now();
            let mut next =
                now + TimeDelta::from_std(self.config.max_sleep).unwrap_or(TimeDelta::MAX);
            if let Some(t) = self.index.next() {
                next = next.min(t);
            }
            if let Some(t) = retry_at {
                next = next.min(t);
            }
            if !self.stale.is_empty() {
                next = now;
            }
            let sleep = (next - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(self.config.max_sleep);
            look = true;
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.wake.notified() => {}
                Some(done) = checks.join_next_with_id(), if !checks.is_empty() => {
                    // The check says where its account stands: no round needed for that.
                    self.finished(done, &mut checks).await;
                    look = false;
                }
                _ = self.stop.changed() => {}
            }
            // Collect whatever else finished meanwhile.
            while let Some(done) = checks.try_join_next_with_id() {
                self.finished(done, &mut checks).await;
            }
        }
        // Shutting down: let running checks finish for a moment, then cancel them.
        let grace = tokio::time::sleep(self.config.shutdown_grace);
        tokio::pin!(grace);
        while !checks.is_empty() {
            tokio::select! {
                _ = &mut grace => break,
                Some(done) = checks.join_next_with_id() => {
                    self.forget_task(done);
                }
            }
        }
        checks.shutdown().await;
    }

    /// Clears a finished task's bookkeeping; returns its report if it ended normally.
    fn forget_task(
        &mut self,
        done: Result<(tokio::task::Id, Done), tokio::task::JoinError>,
    ) -> Option<Done> {
        match done {
            Ok((task, d)) => {
                self.tasks.remove(&task);
                self.in_flight.remove(&d.account_id);
                if d.progressed {
                    self.idle_rounds.remove(&d.account_id);
                } else {
                    *self.idle_rounds.entry(d.account_id.clone()).or_default() += 1;
                }
                Some(d)
            }
            Err(e) => {
                // A check that panicked: its account is read and planned again, after a pause.
                tracing::warn!(error = %e, "a keep-alive check ended abnormally");
                if let Some(id) = self.tasks.remove(&e.id()) {
                    self.in_flight.remove(&id);
                    let idle = self.idle_rounds.entry(id.clone()).or_default();
                    let pause = self.config.policy.backoff(*idle, rand::random());
                    *idle += 1;
                    self.cooldown.insert(id.clone(), self.host.now() + pause);
                    self.stale.insert(id);
                }
                None
            }
        }
    }

    async fn finished(
        &mut self,
        done: Result<(tokio::task::Id, Done), tokio::task::JoinError>,
        checks: &mut JoinSet<Done>,
    ) {
        let Some(d) = self.forget_task(done) else {
            return;
        };
        if d.removed {
            self.forget_account(&d.account_id);
            return;
        }
        match d.account {
            // Not older than what a round read meanwhile: plan from it.
            Some(w) if self.index.seq(&d.account_id).is_none_or(|s| w.seq >= s) => {
                let now = self.host.now();
                self.consider(w, now, checks).await;
            }
            _ => {
                self.stale.insert(d.account_id);
            }
        }
    }

    fn forget_account(&mut self, id: &str) {
        self.index.remove(id);
        self.idle_rounds.remove(id);
        self.cooldown.remove(id);
        self.stale.remove(id);
    }

    /// One look: what changed since the last look and what is due now (every account on the
    /// first look, and after a suspend, a clock change or a change of the warning window). Plans,
    /// starts the due checks, emits state changes.
    async fn round(&mut self, checks: &mut JoinSet<Done>) -> crate::Result<()> {
        let now = self.host.now();
        let mono = Instant::now();
        let jumped = self.last_look.is_some_and(|(wall, at)| {
            let elapsed = TimeDelta::from_std(mono - at).unwrap_or(TimeDelta::MAX);
            ((now - wall) - elapsed).abs() > CLOCK_JUMP
        });
        self.last_look = Some((now, mono));

        let mut full = jumped;
        let mut changed = Vec::new();
        let mut top = 0;
        match self.seq {
            None => full = true,
            Some(seen) if !full => {
                let c = self.host.changes_since(seen).await?;
                full = c.every_account;
                top = c.seq;
                changed = c.accounts;
            }
            Some(_) => {}
        }

        // Logins in progress are not in the store: those started or ended since are changes.
        let awaiting: HashSet<String> = self.host.awaiting_login().into_iter().collect();
        let flows_moved: Vec<String> = self
            .awaiting
            .symmetric_difference(&awaiting)
            .cloned()
            .collect();
        self.awaiting = awaiting;

        let accounts = if full {
            let (all, top) = self.host.snapshot().await?;
            self.stats.full_reads.fetch_add(1, Ordering::Relaxed);
            self.stats
                .touched
                .fetch_add(all.len() as u64, Ordering::Relaxed);
            let present: HashSet<&str> = all.iter().map(|w| w.row.account.id.as_str()).collect();
            let gone: Vec<String> = self
                .index
                .entries
                .keys()
                .filter(|id| !present.contains(id.as_str()))
                .cloned()
                .collect();
            for id in gone {
                self.forget_account(&id);
            }
            self.stale.clear();
            self.seq = Some(top);
            all
        } else {
            let mut wanted: Vec<String> = std::mem::take(&mut self.stale).into_iter().collect();
            for (id, seq) in changed {
                if self.index.seq(&id).is_none_or(|known| seq > known) {
                    wanted.push(id);
                }
            }
            wanted.extend(flows_moved);
            wanted.extend(self.index.take_due(now));
            wanted.sort_unstable();
            wanted.dedup();
            self.stats
                .touched
                .fetch_add(wanted.len() as u64, Ordering::Relaxed);
            let read = match self.host.watched_some(wanted.clone()).await {
                Ok(read) => read,
                Err(e) => {
                    // Read them next time.
                    self.stale.extend(wanted);
                    return Err(e);
                }
            };
            let found: HashSet<&str> = read.iter().map(|w| w.row.account.id.as_str()).collect();
            for id in wanted.iter().filter(|id| !found.contains(id.as_str())) {
                self.forget_account(id);
            }
            self.seq = Some(top);
            read
        };
        for entry in accounts {
            self.consider(entry, now, checks).await;
        }
        Ok(())
    }

    /// Takes in one account just read: emits its state if it moved, plans it, starts its check
    /// if due, and files it under the time it must be looked at again.
    async fn consider(&mut self, entry: Watched, now: DateTime<Utc>, checks: &mut JoinSet<Done>) {
        let id = entry.row.account.id.clone();

        // State changes (also those of the clock alone: valid → expiring → expired).
        let state = entry.state.clone();
        if let Some(old) = self.index.saw(&id, entry.seq, state.clone())
            && old != state
        {
            self.host.state_changed(&entry.row.account, state);
        }
        let mut at = state_change_points(&entry.row, entry.warning_window)
            .into_iter()
            .filter(|t| *t > now)
            .min();

        // A running check writes the account's next plan itself and reports it.
        if self.in_flight.contains(&id) {
            self.index.set_at(&id, at);
            return;
        }
        if let Some(until) = self.cooldown.get(&id).copied() {
            if until > now {
                self.index
                    .set_at(&id, Some(at.map_or(until, |t| t.min(until))));
                return;
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
        match plan {
            Some(plan) if plan.at <= now => {
                // Started now; it waits for a permit if `max_parallel` checks are running.
                self.in_flight.insert(id.clone());
                self.stats.checks.fetch_add(1, Ordering::Relaxed);
                let job = Check {
                    host: self.host.clone(),
                    policy: self.config.policy.clone(),
                    permits: self.permits.clone(),
                    account: entry,
                    plan,
                    idle: self.idle_rounds.get(&id).copied().unwrap_or(0),
                };
                let handle = checks.spawn(job.run());
                self.tasks.insert(handle.id(), id.clone());
            }
            Some(plan) => at = Some(at.map_or(plan.at, |t| t.min(plan.at))),
            None => {}
        }
        self.index.set_at(&id, at);
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

/// The times at which the shown state of a valid session changes by the clock alone: the
/// warning window starts, the session expires, the refresh token expires.
fn state_change_points(row: &AccountRow, window: TimeDelta) -> Vec<DateTime<Utc>> {
    match (&row.session.state, row.session.info.as_ref()) {
        (StoredState::Valid, Some(info)) => {
            let mut points = Vec::with_capacity(3);
            if let Some(exp) = info.expires_at {
                points.extend([exp - window, exp]);
            }
            points.extend(info.refresh_expires_at);
            points
        }
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
    /// Taken before anything is sent, so at most `max_parallel` checks run at once.
    permits: Arc<Semaphore>,
    account: Watched,
    plan: Plan,
    /// Earlier checks of this account in a row that changed nothing.
    idle: u32,
}

/// Where a check left its account.
enum After {
    /// As in `Check::account` (read after the check, with the plan it stored).
    Known,
    /// Unknown: the next round reads it.
    Unknown,
    Removed,
}

impl Check {
    async fn run(self) -> Done {
        let id = self.account.row.account.id.clone();
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let done = self.run_with_permit(id).await;
                drop(permit);
                done
            }
            Err(_) => self.run_after_wait(id).await,
        }
    }

    /// No permit was free: wait for one, then make sure the account is still as it was when the
    /// check was planned (it may have waited behind many others).
    async fn run_after_wait(mut self, id: String) -> Done {
        let Ok(_permit) = self.permits.clone().acquire_owned().await else {
            return self.done(id, true, After::Unknown);
        };
        match self.host.watched(&id).await {
            Ok(Some(fresh)) if fresh.seq == self.account.seq => self.run_with_permit(id).await,
            // Changed meanwhile: the engine plans it again from what it is now.
            Ok(Some(fresh)) => {
                self.account = fresh;
                self.done(id, true, After::Known)
            }
            Ok(None) => self.done(id, true, After::Removed),
            Err(e) => {
                tracing::warn!(error = %e.message, "keep-alive cannot re-read an account");
                self.done(id, false, After::Unknown)
            }
        }
    }

    async fn run_with_permit(mut self, id: String) -> Done {
        let (progressed, after) = match self.plan.kind {
            CheckKind::Warn => (self.warn().await, After::Known),
            CheckKind::Expire => (self.expire().await, After::Known),
            kind => self.renew(kind).await,
        };
        self.done(id, progressed, after)
    }

    fn done(self, account_id: String, progressed: bool, after: After) -> Done {
        Done {
            account_id,
            progressed,
            removed: matches!(after, After::Removed),
            account: matches!(after, After::Known).then_some(self.account),
        }
    }

    /// "This session will die in X and cannot be renewed without you."
    async fn warn(&mut self) -> bool {
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
    async fn expire(&mut self) -> bool {
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
    async fn renew(&mut self, kind: CheckKind) -> (bool, After) {
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
            Ok(None) => return (true, After::Removed),
            Err(e) => {
                tracing::warn!(error = %e.message, "keep-alive cannot re-read an account");
                return (false, After::Unknown);
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
        (progressed, After::Known)
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
