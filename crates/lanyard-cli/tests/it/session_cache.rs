//! The kernel session keyring in front of the Secret Service: `lanyard token` served from it
//! without a D-Bus round trip, never a token older than the session in the database, and
//! nothing left behind by a logout. Needs scripts/with-secret-service.sh (a private Secret
//! Service and a private session keyring) and `keyctl`.

use std::process::{Command as StdCommand, Stdio};

use lanyard_core::secrets::SecretStoreKind;
use lanyard_core::{Config, Manager};
use tokio::process::Command;

use crate::support::{Outcome, World, lanyard_in, lines, run};

const APPID: &str = lanyard_sim::coolkit::DEMO_APPID;
const APPSECRET: &str = lanyard_sim::coolkit::DEMO_APPSECRET;
const ACCOUNT: &str = "coolkit/bob@example.com";
/// A bus address nobody listens on: a run that still gets its token did not ask the keyring.
const DEAD_BUS: &str = "unix:path=/nonexistent/lanyard-test-bus";

/// Whether this test can run: a private Secret Service and a kernel keyring. CI
/// (`LANYARD_REQUIRE_KEYRING=1`) insists on both.
fn keyring_available() -> bool {
    let bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    let keyctl = StdCommand::new("keyctl")
        .args(["show", "@s"])
        .output()
        .is_ok_and(|o| o.status.success());
    if bus && keyctl {
        return true;
    }
    assert!(
        std::env::var_os("LANYARD_REQUIRE_KEYRING").is_none(),
        "the session cache tests need scripts/with-secret-service.sh and keyctl"
    );
    eprintln!("skipped: run under scripts/with-secret-service.sh, with keyctl installed");
    false
}

/// `lanyard ARGS` on the keyring; `bus` replaces the session bus address when given.
fn on_keyring(w: &World, args: &[&str], bus: Option<&str>) -> Command {
    let mut cmd = lanyard_in(w.data.path());
    cmd.args(args).env("LANYARD_SECRET_STORE", "keyring");
    if let Some(bus) = bus {
        cmd.env("DBUS_SESSION_BUS_ADDRESS", bus);
    }
    cmd
}

/// `cmd` in a new session keyring of its own: another login session, as the kernel sees it.
fn in_another_session(cmd: &Command) -> Command {
    let lanyard = cmd.as_std();
    let mut other = Command::new("keyctl");
    other
        .args(["session", "-"])
        .arg(lanyard.get_program())
        .args(lanyard.get_args());
    for (name, value) in lanyard.get_envs() {
        match value {
            Some(value) => other.env(name, value),
            None => other.env_remove(name),
        };
    }
    other
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    other
}

/// Adds and logs in the CoolKit demo account; returns its id.
async fn add_coolkit(w: &World) -> String {
    let endpoint = w.endpoint("coolkit");
    let app_secret = format!("appsecret={APPSECRET}");
    let app_id = format!("appid={APPID}");
    let args = [
        "add",
        "coolkit",
        "--user",
        "bob@example.com",
        "--endpoint",
        &endpoint,
        "--opt",
        &app_id,
        "--opt",
        &app_secret,
        "--opt",
        "region=us",
        "--remember-password",
        "--password-stdin",
    ];
    run(on_keyring(w, &args, None), &lines(&["hunter22"]))
        .await
        .assert_ok();
    // The id is in the database only; read without touching any secret store.
    let config = Config {
        data_dir: Some(w.data.path().to_owned()),
        secret_store: Some(SecretStoreKind::Memory),
        ..Config::default()
    };
    let accounts = Manager::open(config).await.unwrap().list().await.unwrap();
    accounts[0].account.id.clone()
}

async fn token(w: &World, bus: Option<&str>) -> Outcome {
    run(on_keyring(w, &["token", "coolkit"], bus), "").await
}

/// The names of the kernel keys caching the account's secrets, in the session keyring this
/// test binary shares with the `lanyard` runs it starts.
fn cached_for(account_id: &str) -> Vec<String> {
    let out = StdCommand::new("keyctl")
        .args(["show", "@s"])
        .output()
        .expect("keyctl runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split("user: ").nth(1))
        .filter(|name| name.starts_with("lanyard:") && name.contains(account_id))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_cached_token_is_served_without_the_secret_service() {
    if !keyring_available() {
        return;
    }
    let w = World::new().await;
    let id = add_coolkit(&w).await;
    let first = token(&w, None).await.assert_ok().stdout.clone();
    let cached = cached_for(&id);
    assert!(
        cached.len() == 1 && cached[0].contains("/session#"),
        "the session alone is cached, under its generation: {cached:?}"
    );
    let served = token(&w, Some(DEAD_BUS)).await;
    assert_eq!(
        served.assert_ok().stdout,
        first,
        "the second run reads the kernel cache, not the Secret Service"
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn a_session_renewed_in_another_login_session_is_never_served_stale() {
    if !keyring_available() {
        return;
    }
    let w = World::new().await;
    let id = add_coolkit(&w).await;
    let before = token(&w, None).await.assert_ok().stdout.clone();
    // Renewed from another session keyring: its writes cannot drop our cached copy; the bumped
    // generation in the database must still keep the old token from being served.
    let refresh = on_keyring(&w, &["refresh", ACCOUNT, "--force"], None);
    run(in_another_session(&refresh), "").await.assert_ok();
    assert_eq!(cached_for(&id).len(), 1, "our old copy is still cached");
    let after = token(&w, None).await.assert_ok().stdout.clone();
    assert_ne!(after, before, "the renewed token, not the cached old one");
    let again = token(&w, Some(DEAD_BUS)).await;
    assert_eq!(
        again.assert_ok().stdout,
        after,
        "and that one is cached now"
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn logout_leaves_no_cached_session_behind() {
    if !keyring_available() {
        return;
    }
    let w = World::new().await;
    let id = add_coolkit(&w).await;
    token(&w, None).await.assert_ok();
    assert_eq!(cached_for(&id).len(), 1, "cached before the logout");
    run(on_keyring(&w, &["logout", ACCOUNT], None), "")
        .await
        .assert_ok();
    assert!(
        cached_for(&id).is_empty(),
        "nothing cached after the logout: {:?}",
        cached_for(&id)
    );
    token(&w, Some(DEAD_BUS)).await.assert_code(3);
    w.sim.shutdown().await;
}
