//! Measures one keep-alive refresh round at scale: N CoolKit v2 accounts (default 200), every
//! one of them due, the engine started with the app's settings; prints how long it takes until
//! every account has been refreshed against lanyard-sim, and the refreshes per second. For
//! `make bench` (bench/src/keepalive.rs), which reads the `BENCH` lines.
//!
//! ```text
//! cargo run --release -p lanyard-core --example keepalive_round -- \
//!     [--accounts N] [--store memory|keyring] [--coolkit http://127.0.0.1:P/{region}]
//! ```
//!
//! Without `--coolkit` the simulators run inside this process (on the same runtime); with it,
//! the CoolKit endpoint template of a running `lanyard-sim` is used.
//!
//! The simulator keeps one session per user and app (a login drops the earlier ones), and it has
//! three CoolKit users, so N independent sessions cannot exist. Instead: one real login, its
//! refresh token copied into N accounts, and the simulator told not to rotate refresh tokens
//! (`rotate_rt: false`, which the notes allow and v1 always does). Every refresh is then a real,
//! signed v2 refresh that the simulator accepts, and the engine persists each new `at` — the
//! work a round does. The accounts' sessions are stored as obtained 29 of 30 days ago, so every
//! one is past its 75–80 % refresh point when the engine starts.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use lanyard_core::http::HttpConfig;
use lanyard_core::keepalive::KeepAliveConfig;
use lanyard_core::manager::{Event, LoginStep, Manager, NewAccount};
use lanyard_core::secrets::Secrets;
use lanyard_core::{KeepAlive, SecretString, ServiceId};
use lanyard_sim::control::{CoolkitConfigPatch, SimControl};
use lanyard_sim::coolkit::{DEMO_APPID, DEMO_APPSECRET};
use tokio::sync::broadcast::error::RecvError;

/// User + system CPU time of this process so far, from `/proc/self/stat` (Linux).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// The store the app would use for the data dir `dir`.
fn secrets(store: &str, dir: &std::path::Path) -> Secrets {
    match store {
        "memory" => Secrets::memory(),
        "keyring" => Secrets::keyring_for_data_dir(dir)
            .expect("the keyring (run under scripts/with-secret-service.sh)"),
        other => panic!("--store {other}: memory or keyring"),
    }
}

/// The simulator's request counter for one route.
async fn sim_count(sim: &SimControl, route: &str) -> u64 {
    sim.stats().await.expect("sim stats").count(route)
}

#[tokio::main]
async fn main() {
    let accounts: usize = arg("--accounts")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let store = arg("--store").unwrap_or_else(|| "memory".into());
    let (coolkit, _sim, where_) = match arg("--coolkit") {
        Some(ep) => (ep, None, "a separate lanyard-sim process"),
        None => {
            let sim = lanyard_sim::start(lanyard_sim::SimConfig { port_base: None })
                .await
                .expect("start the simulators");
            (
                sim.endpoints().coolkit.clone(),
                Some(sim),
                "lanyard-sim in this process",
            )
        }
    };
    let sim = SimControl::new(&coolkit);
    let config = sim
        .configure(&CoolkitConfigPatch {
            rotate_rt: Some(false),
            ..Default::default()
        })
        .await
        .expect("sim config");
    assert_eq!(
        config["rotate_rt"], false,
        "the simulator kept rotating: {config}"
    );

    let options = |extra: &[(&str, &str)]| -> BTreeMap<String, String> {
        [("appid", DEMO_APPID), ("appsecret", DEMO_APPSECRET)]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };

    // One real login, in a manager of its own, gives the token pair.
    let seed_dir = tempfile::tempdir().expect("a temporary directory");
    let seed = Manager::with_parts(
        &seed_dir.path().join("lanyard.db"),
        Secrets::memory(),
        HttpConfig::default(),
    )
    .expect("a manager");
    let view = seed
        .add_account(NewAccount {
            name: Some("seed".into()),
            service: ServiceId::Coolkit,
            user: "alice@example.com".into(),
            endpoint: Some(coolkit.clone()),
            options: options(&[]),
            remember_password: false,
        })
        .await
        .expect("the seed account");
    match seed
        .begin_login(&view.account.name, Some(SecretString::new("secret123")))
        .await
        .expect("the seed login")
    {
        LoginStep::Done(_) => {}
        LoginStep::Challenge { .. } => panic!("the seed login asked for a challenge"),
    }
    let session = seed
        .session("seed")
        .await
        .expect("the seed session")
        .expect("a seed session");
    let region = session
        .info
        .extra
        .get("region")
        .cloned()
        .unwrap_or_else(|| "us".into());

    // N accounts, each holding that pair, obtained 29 of 30 days ago: all due now.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let m = Arc::new(
        Manager::with_parts(
            &dir.path().join("lanyard.db"),
            secrets(&store, dir.path()),
            HttpConfig::default(),
        )
        .expect("a manager"),
    );
    let now = m.now();
    let mut names = HashSet::new();
    for i in 0..accounts {
        let view = m
            .add_account(NewAccount {
                name: Some(format!("round-{i}")),
                service: ServiceId::Coolkit,
                user: format!("round{i}@example.invalid"),
                endpoint: Some(coolkit.clone()),
                options: options(&[("region", region.as_str())]),
                remember_password: false,
            })
            .await
            .expect("an account");
        let mut s = session.clone();
        s.info.obtained_at = Some(now - TimeDelta::days(29));
        s.info.expires_at = Some(now + TimeDelta::days(1));
        m.save_session(&view.account.id, &s)
            .await
            .expect("a session");
        names.insert(view.account.name);
    }

    let refreshes_before = sim_count(&sim, "coolkit.v2.refresh").await;
    let mut events = m.subscribe();
    let cpu0 = cpu_time();
    let start = Instant::now();
    let ka = KeepAlive::spawn(m.clone());
    // What the window does meanwhile: list the accounts every 100 ms; the slowest list says
    // whether it stayed responsive during the burst.
    let slowest_list_us = Arc::new(AtomicU64::new(0));
    let lister = {
        let (m, slowest) = (m.clone(), slowest_list_us.clone());
        tokio::spawn(async move {
            loop {
                let t = Instant::now();
                if m.list().await.is_err() {
                    break;
                }
                slowest.fetch_max(t.elapsed().as_micros() as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    // Count each account's outcome once. If the event channel lags (it holds 256 events), fall
    // back to asking the simulator how many refreshes it answered.
    let mut refreshed = HashSet::new();
    let mut failed = HashSet::new();
    let mut lagged = false;
    let deadline = start + Duration::from_secs(300);
    while refreshed.len() + failed.len() < accounts && Instant::now() < deadline {
        if lagged {
            let served = sim_count(&sim, "coolkit.v2.refresh").await - refreshes_before;
            if served >= accounts as u64 {
                // Served is not yet persisted: give the engine's last checks a moment.
                tokio::time::sleep(Duration::from_millis(20)).await;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        match tokio::time::timeout(Duration::from_secs(1), events.recv()).await {
            Ok(Ok(Event::Refreshed { account, .. })) if names.contains(&account) => {
                refreshed.insert(account);
            }
            Ok(Ok(Event::RefreshFailed {
                account, message, ..
            })) if names.contains(&account) => {
                eprintln!("keepalive_round: {account}: {message}");
                failed.insert(account);
            }
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(RecvError::Lagged(_))) => lagged = true,
            Ok(Err(RecvError::Closed)) => break,
        }
    }
    let wall = start.elapsed();
    let cpu1 = cpu_time();
    lister.abort();
    let slowest_list_ms = slowest_list_us.load(Ordering::Relaxed) as f64 / 1000.0;
    let (rounds, checks, touched) = (ka.rounds(), ka.checks(), ka.touched());
    let max_parallel = KeepAliveConfig::default().max_parallel;
    ka.shutdown().await;
    let served = sim_count(&sim, "coolkit.v2.refresh").await - refreshes_before;

    // Every account must now hold a new `at` the simulator issued.
    let mut renewed = 0;
    for name in &names {
        if let Ok(Some(s)) = m.session(name).await
            && s.tokens.access.expose() != session.tokens.access.expose()
        {
            renewed += 1;
        }
    }
    let cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) => format!("{} ms", b.saturating_sub(a).as_millis()),
        _ => "unknown".into(),
    };
    let secs = wall.as_secs_f64();
    let detection = if lagged {
        "end seen from the simulator's counter (event channel lagged)"
    } else {
        "end seen from the Refreshed events"
    };
    println!(
        "keepalive round: {accounts} CoolKit v2 accounts due, {renewed} renewed ({} failed), \
         {served} refreshes served, {secs:.2} s => {:.0} refreshes/s; process CPU {cpu}; \
         {rounds} engine rounds, {checks} checks, {touched} accounts read by the rounds; \
         slowest account list meanwhile {slowest_list_ms:.0} ms; store {store}; {where_}",
        failed.len(),
        renewed as f64 / secs,
    );
    println!(
        "BENCH\tKeep-alive: refresh round, {accounts} CoolKit accounts due ({store} store)\t\
         {secs:.2} s, {:.0} refreshes/s ({renewed}/{accounts} renewed), {rounds} rounds\t\
         engine with the app's settings (KeepAlive::spawn: {max_parallel} checks at once), \
         CoolKit v2 refresh against {where_} on loopback, one shared rt (sim rotate_rt=false), \
         {served} refreshes served, process CPU {cpu}, {rounds} rounds, {checks} checks, \
         {touched} accounts read by the rounds, the account list (Manager::list every 100 ms, \
         as the window) took at most {slowest_list_ms:.0} ms meanwhile; {detection}",
        renewed as f64 / secs,
    );
}
