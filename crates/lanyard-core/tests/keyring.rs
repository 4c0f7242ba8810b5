//! The OS keyring store against a real Secret Service.
//!
//! `make test` runs this under scripts/with-secret-service.sh (gnome-keyring, unlocked, inside
//! dbus-run-session) with LANYARD_REQUIRE_KEYRING=1. Elsewhere the tests that need a keyring
//! skip, with a printed reason, when there is no session bus. By hand:
//!
//! ```sh
//! dbus-run-session -- bash -c 'printf %s pw | gnome-keyring-daemon --unlock --components=secrets \
//!     --daemonize >/dev/null; sleep 1; cargo test -p lanyard-core --test keyring'
//! ```

use std::process::Command;
use std::time::{Duration, Instant};

use lanyard_core::secrets::keyring::{KeyringBackend, SERVICE};
use lanyard_core::secrets::{SecretBackend, SecretStoreKind, Secrets};
use lanyard_core::{ErrorCode, SecretString};

#[tokio::test]
async fn set_get_overwrite_delete_round_trip() {
    let Some(keyring) = keyring_or_skip("set_get_overwrite_delete_round_trip").await else {
        return;
    };
    let key = Cleanup::key("round-trip");
    assert_eq!(keyring.kind(), SecretStoreKind::Keyring);
    assert_eq!(keyring.get(&key.0).await.unwrap(), None);

    keyring
        .set(&key.0, &SecretString::new("first value"))
        .await
        .unwrap();
    assert_eq!(
        keyring.get(&key.0).await.unwrap().unwrap().expose(),
        "first value"
    );
    if let Some(found) = secret_tool_lookup(&key.0) {
        assert_eq!(
            found.as_deref(),
            Some("first value"),
            "stored as service=lanyard, username=<key>"
        );
    }

    let long_unicode = format!("jwt.{}.签名✓", "x".repeat(4096));
    keyring
        .set(&key.0, &SecretString::new(long_unicode.clone()))
        .await
        .unwrap();
    assert_eq!(
        keyring.get(&key.0).await.unwrap().unwrap().expose(),
        long_unicode
    );

    keyring.delete(&key.0).await.unwrap();
    assert_eq!(keyring.get(&key.0).await.unwrap(), None);
    if let Some(found) = secret_tool_lookup(&key.0) {
        assert_eq!(found, None);
    }
    keyring.delete(&key.0).await.unwrap(); // deleting a missing key is Ok
}

#[tokio::test]
async fn a_missing_key_reads_as_none() {
    let Some(keyring) = keyring_or_skip("a_missing_key_reads_as_none").await else {
        return;
    };
    let key = Cleanup::key("never-set");
    assert_eq!(keyring.get(&key.0).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_each_keep_their_own_key() {
    let Some(keyring) = keyring_or_skip("concurrent_calls_each_keep_their_own_key").await else {
        return;
    };
    let keys: Vec<Cleanup> = (0..6)
        .map(|i| Cleanup::key(&format!("concurrent-{i}")))
        .collect();
    let tasks: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let (keyring, key) = (keyring.clone(), key.0.clone());
            tokio::spawn(async move {
                keyring
                    .set(&key, &SecretString::new(format!("value {i}")))
                    .await
                    .unwrap();
                keyring
                    .get(&key)
                    .await
                    .unwrap()
                    .unwrap()
                    .expose()
                    .to_owned()
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), format!("value {i}"));
    }
}

#[tokio::test]
async fn health_probe_passes() {
    let Some(keyring) = keyring_or_skip("health_probe_passes").await else {
        return;
    };
    let health = keyring.health().await;
    assert!(health.ok, "{}", health.message);
    assert_eq!(health.kind, SecretStoreKind::Keyring);
}

/// Runs `no_session_bus_child` in a child process whose session bus address points nowhere
/// (changing the environment of this multi-threaded process would be unsound).
#[test]
fn without_a_session_bus_the_error_says_what_to_do() {
    let mut child = Command::new(std::env::current_exe().unwrap());
    child.args(child_test_args("no_session_bus_child"));
    child.env(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/lanyard-test-bus",
    );
    run_child(child);
}

#[test]
#[ignore = "run by without_a_session_bus_the_error_says_what_to_do in a child process"]
fn no_session_bus_child() {
    assert_eq!(
        std::env::var(CHILD_ENV).as_deref(),
        Ok("1"),
        "only meaningful in a child process"
    );
    let started = Instant::now();
    let err = Secrets::keyring().unwrap_err();
    println!("error shown to the user: {}", err.message);
    assert_eq!(err.code, ErrorCode::SecretStore);
    assert!(
        err.message
            .contains("no Secret Service is running (is gnome-keyring or KeePassXC running?)"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("LANYARD_SECRET_STORE=file"),
        "{}",
        err.message
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "failing took {:?}",
        started.elapsed()
    );
}

/// Runs `locked_keyring_child` on a private session bus with a gnome-keyring that was never
/// unlocked (and no display, so no unlock prompt can appear).
#[test]
fn a_locked_keyring_says_how_to_unlock() {
    if !tools_or_skip(
        "a_locked_keyring_says_how_to_unlock",
        &["dbus-run-session", "gnome-keyring-daemon"],
    ) {
        return;
    }
    let mut child = Command::new("dbus-run-session");
    child.args(["--", "sh", "-c"]);
    child.arg(r#"gnome-keyring-daemon --components=secrets --daemonize </dev/null >/dev/null && exec "$@""#);
    child
        .arg("sh")
        .arg(std::env::current_exe().unwrap())
        .args(child_test_args("locked_keyring_child"));
    child.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
    run_child(child);
}

#[tokio::test]
#[ignore = "run by a_locked_keyring_says_how_to_unlock in a child process"]
async fn locked_keyring_child() {
    assert_eq!(
        std::env::var(CHILD_ENV).as_deref(),
        Ok("1"),
        "only meaningful in a child process"
    );
    let keyring = Secrets::keyring()
        .unwrap()
        .with_timeout(Duration::from_secs(5));
    let err = keyring
        .set("lanyard-test/locked", &SecretString::new("v"))
        .await
        .unwrap_err();
    println!("error shown to the user: {}", err.message);
    assert_eq!(err.code, ErrorCode::SecretStore);
    assert!(
        err.message.contains("the keyring is locked"),
        "{}",
        err.message
    );
    assert!(err.message.contains("unlock it"), "{}", err.message);
    let health = keyring.health().await;
    assert!(!health.ok);
    assert!(
        health.message.contains("the keyring is locked"),
        "{}",
        health.message
    );
    assert!(
        !health.message.contains("__lanyard_probe__"),
        "{}",
        health.message
    );
}

const CHILD_ENV: &str = "LANYARD_KEYRING_TEST_CHILD";

/// The keyring, once a probe write succeeds (a Secret Service that has just started can refuse
/// the first calls); `None`, with the reason printed, when the test must skip.
async fn keyring_or_skip(test: &str) -> Option<Secrets> {
    let required = std::env::var("LANYARD_REQUIRE_KEYRING").as_deref() == Ok("1");
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() && !required {
        eprintln!(
            "SKIPPED {test}: DBUS_SESSION_BUS_ADDRESS is unset, so there is no Secret Service to test against \
             (run under scripts/with-secret-service.sh, or set LANYARD_REQUIRE_KEYRING=1 to make this a failure)"
        );
        return None;
    }
    let keyring = Secrets::keyring()
        .unwrap_or_else(|e| panic!("the keyring is required here: {}", e.message));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let health = keyring.health().await;
        if health.ok {
            return Some(keyring);
        }
        assert!(
            Instant::now() < deadline,
            "the keyring never became usable: {}",
            health.message
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn child_test_args(name: &str) -> [&str; 5] {
    [
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]
}

/// Runs a re-invocation of this test binary and expects its one test to pass.
fn run_child(mut command: Command) {
    let out = command
        .env(CHILD_ENV, "1")
        .output()
        .expect("cannot start the child process");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "the child failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run:\n{stdout}\n{stderr}"
    );
}

/// Whether the programs are installed; if not, skips (with the reason printed) unless
/// LANYARD_REQUIRE_KEYRING=1, where it fails.
fn tools_or_skip(test: &str, programs: &[&str]) -> bool {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| {
            Command::new("sh")
                .args(["-c", &format!("command -v {p}")])
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert_ne!(
        std::env::var("LANYARD_REQUIRE_KEYRING").as_deref(),
        Ok("1"),
        "{test} needs {missing:?} installed"
    );
    eprintln!("SKIPPED {test}: {missing:?} not installed");
    false
}

/// A unique key for this run, deleted from the keyring when dropped (even if the test fails).
struct Cleanup(String);

impl Cleanup {
    fn key(name: &str) -> Cleanup {
        Cleanup(format!(
            "lanyard-test/{}/{name}/{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ))
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // On a plain thread: blocking keyring calls do not belong on an async runtime.
        let key = self.0.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(backend) = KeyringBackend::connect(Duration::from_secs(5)) {
                let _ = backend.delete(&key);
            }
        })
        .join();
    }
}

/// What `secret-tool` (libsecret, independent of our code) finds for the key: `Some(None)` if
/// nothing, `None` (with a note) if secret-tool is not installed.
fn secret_tool_lookup(key: &str) -> Option<Option<String>> {
    match Command::new("secret-tool")
        .args(["lookup", "service", SERVICE, "username", key])
        .output()
    {
        Ok(out) => Some(
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned()),
        ),
        Err(e) => {
            eprintln!("note: not cross-checking with secret-tool ({e})");
            None
        }
    }
}
