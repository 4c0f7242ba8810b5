//! Edits and removals racing logins and renewals, and renewals outlasting their lease, against
//! the simulators over real HTTP, a real SQLite file and (for what a removal leaves behind) a
//! real gnome-keyring.
//!
//! The keyring tests run their body in a child process (this test binary again, an `#[ignore]`d
//! test) inside scripts/with-secret-service.sh, a private D-Bus session whose keyring lives in
//! a temporary directory; they list what is left with `secret-tool search --all`. Without the
//! tools they skip with the reason printed (fail with LANYARD_REQUIRE_KEYRING=1).

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use lanyard_core::http::HttpConfig;
use lanyard_core::keepalive::TestClock;
use lanyard_core::manager::{LoginStep, Manager, NewAccount, TokenFormat};
use lanyard_core::secrets::Secrets;
use lanyard_core::secrets::keyring::SERVICE;
use lanyard_core::{ErrorCode, SecretString, ServiceId};
use lanyard_sim::control::{FaultSpec, SimControl};
use lanyard_sim::coolkit::{DEMO_APPID, DEMO_APPSECRET};

use crate::support::{KeyringState, in_private_keyring, options_map, usable_keyring};

async fn requests(base: &str, route: &str) -> u64 {
    SimControl::new(base).stats().await.unwrap().count(route)
}

async fn add_coolkit(m: &Manager, endpoint: &str) -> (String, String) {
    let view = m
        .add_account(NewAccount {
            name: None,
            service: ServiceId::Coolkit,
            user: "alice@example.com".into(),
            endpoint: Some(endpoint.into()),
            options: options_map(&[("appid", DEMO_APPID), ("appsecret", DEMO_APPSECRET)]),
            remember_password: true,
        })
        .await
        .unwrap();
    (view.account.name, view.account.id)
}

/// The keyring items of Lanyard in the child's private keyring, as `secret-tool` lists them.
fn keyring_items() -> String {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "--unlock", "service", SERVICE])
        .output()
        .expect("secret-tool runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// ----------------------------------------------------------------------------- specifications

#[test]
fn remove_racing_a_slow_login_leaves_no_account_session_or_secret() {
    in_private_keyring(
        KeyringState::Unlocked,
        "edit_remove_races::slow_login_child",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by remove_racing_a_slow_login_leaves_no_account_session_or_secret"]
async fn slow_login_child() {
    let sim = lanyard_sim::start(lanyard_sim::SimConfig { port_base: None })
        .await
        .unwrap();
    let ep = sim.endpoints().clone();
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(
        Manager::with_parts(
            &dir.path().join("lanyard.db"),
            usable_keyring().await,
            HttpConfig::default(),
        )
        .unwrap(),
    );
    let (name, id) = add_coolkit(&m, &ep.coolkit).await;
    assert!(
        keyring_items().contains(&id),
        "the appsecret is in the keyring"
    );

    // The login's request takes 1.5 s; the account is removed meanwhile.
    SimControl::new(&ep.coolkit)
        .fault(&FaultSpec {
            latency_ms: Some(1500),
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let login = tokio::spawn({
        let (m, name) = (m.clone(), name.clone());
        async move {
            m.begin_login(&name, Some(SecretString::new("secret123")))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    m.remove_account(&name).await.unwrap();
    let err = login.await.unwrap().unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound, "{}", err.message);
    assert_eq!(
        requests(&ep.coolkit, "coolkit.v2.login").await,
        1,
        "the login did reach the server"
    );

    assert!(m.list().await.unwrap().is_empty());
    let left = keyring_items();
    assert!(
        !left.contains(&id),
        "keyring items of the removed account:\n{left}"
    );
    sim.shutdown().await;
}

#[test]
fn remove_racing_a_refresh_leaves_no_account_session_or_secret() {
    in_private_keyring(KeyringState::Unlocked, "edit_remove_races::refresh_child");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by remove_racing_a_refresh_leaves_no_account_session_or_secret"]
async fn refresh_child() {
    let sim = lanyard_sim::start(lanyard_sim::SimConfig { port_base: None })
        .await
        .unwrap();
    let ep = sim.endpoints().clone();
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(
        Manager::with_parts(
            &dir.path().join("lanyard.db"),
            usable_keyring().await,
            HttpConfig::default(),
        )
        .unwrap(),
    );
    let (name, id) = add_coolkit(&m, &ep.coolkit).await;
    let step = m
        .begin_login(&name, Some(SecretString::new("secret123")))
        .await
        .unwrap();
    assert!(matches!(step, LoginStep::Done(_)));
    let items = keyring_items();
    for part in ["/session", "/password", "/option/appsecret"] {
        assert!(
            items.contains(&format!("{id}{part}")),
            "{part} stored:\n{items}"
        );
    }

    SimControl::new(&ep.coolkit)
        .fault(&FaultSpec {
            latency_ms: Some(1500),
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let refresh = tokio::spawn({
        let (m, name) = (m.clone(), name.clone());
        async move { m.refresh(&name, true).await }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    m.remove_account(&name).await.unwrap();
    assert!(
        refresh.is_finished(),
        "remove waited for the refresh in flight"
    );
    let _ = refresh.await.unwrap();
    assert_eq!(requests(&ep.coolkit, "coolkit.v2.refresh").await, 1);

    assert!(m.list().await.unwrap().is_empty());
    let left = keyring_items();
    assert!(
        !left.contains(&id),
        "keyring items of the removed account:\n{left}"
    );
    sim.shutdown().await;
}

/// A renewal that takes longer than its lease's time-to-live keeps the lease (it is extended
/// while held): a second manager on the same database that wants the same renewal waits, then
/// takes the result instead of refreshing a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_longer_than_its_lease_keeps_it_and_a_second_manager_does_not_refresh_again() {
    let sim = lanyard_sim::start(lanyard_sim::SimConfig { port_base: None })
        .await
        .unwrap();
    let ep = sim.endpoints().clone();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lanyard.db");
    let secrets = Secrets::memory();
    let clock = TestClock::new();
    let ttl = Duration::from_millis(900);
    let open = || {
        Arc::new(
            Manager::with_parts(&db, secrets.clone(), HttpConfig::default())
                .unwrap()
                .with_clock(clock.clone())
                .with_lease_ttl(ttl),
        )
    };
    let (first, second) = (open(), open());
    let (name, _) = add_coolkit(&first, &ep.coolkit).await;
    first
        .begin_login(&name, Some(SecretString::new("secret123")))
        .await
        .unwrap();
    let before = first.token(&name, TokenFormat::Raw).await.unwrap();

    // Two minutes before the end of the access token: a token() call renews first.
    let expires = first
        .get(&name)
        .await
        .unwrap()
        .session
        .unwrap()
        .expires_at
        .unwrap();
    clock.set_offset(expires - chrono::Utc::now() - TimeDelta::minutes(2));
    // The refresh takes about three times the lease's time-to-live.
    SimControl::new(&ep.coolkit)
        .fault(&FaultSpec {
            latency_ms: Some(2700),
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let renewing = tokio::spawn({
        let (m, name) = (first.clone(), name.clone());
        async move { m.token(&name, TokenFormat::Raw).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waited = second.token(&name, TokenFormat::Raw).await.unwrap();
    let renewed = renewing.await.unwrap().unwrap();

    assert_eq!(
        requests(&ep.coolkit, "coolkit.v2.refresh").await,
        1,
        "one refresh in all"
    );
    assert_ne!(renewed, before);
    assert_eq!(
        waited, renewed,
        "the second manager took the first one's result"
    );
    sim.shutdown().await;
}

/// The pid of the private session's keyring daemon (started by scripts/with-secret-service.sh
/// for this child), from the bus.
fn keyring_daemon_pid() -> u32 {
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            "string:org.freedesktop.secrets",
        ])
        .output()
        .expect("dbus-send runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "uint32")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no keyring daemon on the bus: {text}"))
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

/// CoolKit rotates its tokens on refresh. The keyring is frozen (SIGSTOP) while the renewed
/// session is being saved: every write times out. The rotated token is still what Lanyard hands
/// out, and once the keyring answers again the next attempt stores it, without a second refresh.
#[test]
fn a_rotated_token_survives_a_keyring_frozen_during_the_save() {
    in_private_keyring(
        KeyringState::Unlocked,
        "edit_remove_races::frozen_keyring_child",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by a_rotated_token_survives_a_keyring_frozen_during_the_save"]
async fn frozen_keyring_child() {
    let sim = lanyard_sim::start(lanyard_sim::SimConfig { port_base: None })
        .await
        .unwrap();
    let ep = sim.endpoints().clone();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lanyard.db");
    let m = Arc::new(
        Manager::with_parts(
            &db,
            usable_keyring()
                .await
                .with_timeout(Duration::from_millis(700)),
            HttpConfig::default(),
        )
        .unwrap(),
    );
    let (name, _) = add_coolkit(&m, &ep.coolkit).await;
    m.begin_login(&name, Some(SecretString::new("secret123")))
        .await
        .unwrap();
    let before = m.token(&name, TokenFormat::Raw).await.unwrap();
    let daemon = keyring_daemon_pid();

    // The refresh answers after 1 s; the keyring stops answering while it is under way.
    SimControl::new(&ep.coolkit)
        .fault(&FaultSpec {
            latency_ms: Some(1000),
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let refresh = tokio::spawn({
        let (m, name) = (m.clone(), name.clone());
        async move { m.refresh(&name, true).await }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    signal(daemon, "-STOP");
    let result = refresh.await.unwrap();
    let rotated = m.token(&name, TokenFormat::Raw).await;
    signal(daemon, "-CONT");
    let err = result.unwrap_err();
    assert_eq!(err.code, ErrorCode::SecretStore, "{}", err.message);
    assert!(err.message.contains("kept in memory"), "{}", err.message);
    let rotated = rotated.unwrap();
    assert_ne!(rotated, before, "the rotated token is handed out");
    assert_eq!(requests(&ep.coolkit, "coolkit.v2.refresh").await, 1);

    // The keyring answers again: the next attempt stores the kept session.
    m.refresh(&name, false).await.unwrap();
    assert_eq!(
        requests(&ep.coolkit, "coolkit.v2.refresh").await,
        1,
        "no second refresh"
    );
    // Another manager (another process would be the same) reads it from the keyring.
    let fresh = Manager::with_parts(&db, usable_keyring().await, HttpConfig::default()).unwrap();
    assert_eq!(fresh.token(&name, TokenFormat::Raw).await.unwrap(), rotated);
    sim.shutdown().await;
}
