//! Measures the keep-alive engine at rest: N accounts (default 200), none due for hours, the
//! engine running with the app's settings; prints the process's CPU time over the measuring
//! window (default 60 s). For `make bench`.
//!
//! ```text
//! cargo run --release -p lanyard-core --example keepalive_idle -- [--accounts N] [--secs S]
//! ```
//!
//! The accounts are spread over the five services with stored sessions (no server is
//! contacted: nothing is due): CoolKit and SiYuan refresh at 75–80 % of 30 days, SSCMS re-logs
//! in at 75–80 % of 7 days, Steedos and ShopXO are re-validated every 4 h. CPU time is the
//! process's user + system time from `/proc/self/stat` (Linux; clock ticks of 10 ms), read
//! after the engine's first round (which plans every account) and at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use lanyard_core::http::HttpConfig;
use lanyard_core::manager::{Manager, NewAccount};
use lanyard_core::secrets::Secrets;
use lanyard_core::{KeepAlive, SecretString, ServiceId, Session, SessionInfo, SessionTokens};

/// User + system CPU time of this process so far, from `/proc/self/stat`.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the ")": state is field 3 of the man page, utime 14 and stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux configuration in use.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// CPU time of this process's live threads, in nanoseconds, from `/proc/self/task/*/schedstat`
/// (finer than the clock ticks of `/proc/self/stat`; the runtime keeps its threads alive for the
/// whole run so none of them takes its time away when it exits).
fn thread_cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        let text = std::fs::read_to_string(path).ok()?;
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_keep_alive(Duration::from_secs(24 * 3600))
        .build()
        .expect("a runtime")
        .block_on(run());
}

async fn run() {
    let accounts = arg("--accounts", 200) as usize;
    let secs = arg("--secs", 60);
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path().to_path_buf();
    let m = Arc::new(
        Manager::with_parts(
            &dir.join("lanyard.db"),
            Secrets::memory(),
            HttpConfig::default(),
        )
        .expect("a manager"),
    );
    let now = m.now();
    for i in 0..accounts {
        let service = ServiceId::ALL[i % ServiceId::ALL.len()];
        let (endpoint, options, lifetime) = match service.as_str() {
            "coolkit" => (
                None,
                vec![("appid", "app"), ("appsecret", "secret")],
                Some(TimeDelta::days(30)),
            ),
            "siyuan" => (None, vec![], Some(TimeDelta::days(30))),
            "sscms" => (
                Some("https://cms.example.invalid"),
                vec![],
                Some(TimeDelta::days(7)),
            ),
            "steedos" => (
                Some("https://steedos.example.invalid"),
                vec![],
                Some(TimeDelta::days(90)),
            ),
            _ => (Some("https://shop.example.invalid"), vec![], None),
        };
        let view = m
            .add_account(NewAccount {
                name: Some(format!("idle-{i}")),
                service,
                user: format!("user{i}@example.invalid"),
                endpoint: endpoint.map(str::to_owned),
                options: options
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                remember_password: service == ServiceId::Sscms,
            })
            .await
            .expect("an account");
        let session = Session {
            tokens: SessionTokens {
                access: SecretString::new(format!("access-{i}")),
                refresh: Some(SecretString::new(format!("refresh-{i}"))),
                ..Default::default()
            },
            info: SessionInfo {
                obtained_at: Some(now),
                expires_at: lifetime.map(|l| now + l),
                ..Default::default()
            },
        };
        m.save_session(&view.account.id, &session)
            .await
            .expect("a session");
    }

    let ka = KeepAlive::spawn(m.clone());
    // Let the first round plan every account, then measure the idle engine.
    while ka.rounds() < 1 || ka.checks() > 0 && ka.rounds() < 2 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rounds0, checks0) = (ka.rounds(), ka.checks());
    let (cpu0, ns0) = (cpu_time(), thread_cpu_ns());
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let wall = start.elapsed();
    let (cpu1, ns1) = (cpu_time(), thread_cpu_ns());
    let fine = match (ns0, ns1) {
        (Some(a), Some(b)) => format!("{:.2} ms", b.saturating_sub(a) as f64 / 1e6),
        _ => "unavailable".to_owned(),
    };
    let (rounds, checks) = (ka.rounds() - rounds0, ka.checks() - checks0);
    ka.shutdown().await;
    match (cpu0, cpu1) {
        (Some(a), Some(b)) => {
            let cpu = b.saturating_sub(a);
            println!(
                "keepalive idle: {accounts} accounts, nothing due, {:.1} s wall: CPU {} ms by /proc/self/stat (10 ms ticks), {fine} by thread schedstat ({:.4} % of one core), {rounds} rounds, {checks} checks",
                wall.as_secs_f64(),
                cpu.as_millis(),
                100.0
                    * ns1
                        .zip(ns0)
                        .map_or(cpu.as_secs_f64(), |(b, a)| b.saturating_sub(a) as f64 / 1e9)
                    / wall.as_secs_f64()
            );
        }
        _ => println!(
            "keepalive idle: {accounts} accounts, {:.1} s: CPU time unavailable (no /proc/self/stat), {rounds} rounds, {checks} checks",
            wall.as_secs_f64()
        ),
    }
}
