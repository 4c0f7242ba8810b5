//! The OS keyring store against a real Secret Service.
//!
//! Every test creates the keyring it asserts on: its body runs in a child process (this test
//! binary again, one `#[ignore]`d test) inside scripts/with-secret-service.sh, which starts a
//! private D-Bus session with gnome-keyring keeping its files in a temporary directory, in the
//! state the test needs (unlocked, locked, or without any login keyring). Nothing here reads or
//! writes the user's own keyring, whatever session the tests run in. Without dbus-run-session
//! or gnome-keyring installed, the tests skip with a printed reason (fail with
//! LANYARD_REQUIRE_KEYRING=1).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use lanyard_core::secrets::keyring::{KeyringBackend, SERVICE};
use lanyard_core::secrets::{SecretBackend, SecretStoreKind, Secrets, shelves};
use lanyard_core::{ErrorCode, SecretString};

use crate::support::{
    CHILD_ENV, KeyringState, in_private_keyring, own_test, run_child, usable_keyring,
};

#[test]
fn set_get_overwrite_delete_round_trip() {
    in_private_keyring(KeyringState::Unlocked, "keyring::round_trip_child");
}

#[test]
fn a_missing_key_reads_as_none() {
    in_private_keyring(KeyringState::Unlocked, "keyring::missing_key_child");
}

#[test]
fn concurrent_calls_each_keep_their_own_key() {
    in_private_keyring(KeyringState::Unlocked, "keyring::concurrent_child");
}

#[test]
fn health_probe_passes() {
    in_private_keyring(KeyringState::Unlocked, "keyring::health_child");
}

#[tokio::test]
#[ignore = "run by set_get_overwrite_delete_round_trip in a private keyring"]
async fn round_trip_child() {
    let keyring = usable_keyring().await;
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
#[ignore = "run by a_missing_key_reads_as_none in a private keyring"]
async fn missing_key_child() {
    let keyring = usable_keyring().await;
    let key = Cleanup::key("never-set");
    assert_eq!(keyring.get(&key.0).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by concurrent_calls_each_keep_their_own_key in a private keyring"]
async fn concurrent_child() {
    let keyring = usable_keyring().await;
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
#[ignore = "run by health_probe_passes in a private keyring"]
async fn health_child() {
    let keyring = usable_keyring().await;
    let health = keyring.health().await;
    assert!(health.ok, "{}", health.message);
    assert_eq!(health.kind, SecretStoreKind::Keyring);
}

#[test]
fn the_apps_keyring_keeps_secrets_on_shared_items_and_two_writers_of_one_lose_none() {
    in_private_keyring(KeyringState::Unlocked, "keyring::shelves_child");
}

/// The data dir two writer processes share (set for `shelf_writer_child`).
const SHELF_DIR_ENV: &str = "LANYARD_TEST_SHELF_DIR";
/// Which writer a `shelf_writer_child` is.
const SHELF_WRITER_ENV: &str = "LANYARD_TEST_SHELF_WRITER";
const SECRETS_PER_WRITER: usize = 40;

/// The keys writer `w` stores: all on one shelf, the same for both writers, so that each write
/// of one races the other's.
fn shelf_writer_keys(w: usize) -> Vec<String> {
    (0..)
        .map(|n| format!("account/{w}-{n}/session"))
        .filter(|key| shelves::shelf_number(key) == 0)
        .take(SECRETS_PER_WRITER)
        .collect()
}

#[tokio::test]
#[ignore = "run by the_apps_keyring_keeps_secrets_on_shared_items_and_two_writers_of_one_lose_none"]
async fn shelves_child() {
    usable_keyring().await;
    let dir = tempfile::tempdir().unwrap();
    // Two processes write into one data dir's shelves at once.
    let writers: Vec<_> = (0..2)
        .map(|w| {
            own_test("keyring::shelf_writer_child")
                .env(SHELF_DIR_ENV, dir.path())
                .env(SHELF_WRITER_ENV, w.to_string())
                .env(CHILD_ENV, "1")
                .spawn()
                .unwrap()
        })
        .collect();
    for mut writer in writers {
        assert!(writer.wait().unwrap().success(), "a writer failed");
    }

    let keyring = Secrets::keyring_for_data_dir(dir.path()).unwrap();
    for w in 0..2 {
        for (i, key) in shelf_writer_keys(w).iter().enumerate() {
            let value = keyring.get(key).await.unwrap();
            assert_eq!(
                value.as_ref().map(SecretString::expose),
                Some(format!("token {w} {i}").as_str()),
                "{key}"
            );
        }
    }
    // Seen with libsecret's own tool: one item, a JSON map holding all 80 secrets.
    let items = secret_tool_items();
    assert_eq!(
        items.len(),
        1,
        "one shelf: {:?}",
        items.iter().map(|i| &i.0)
    );
    let (shelf, secret) = &items[0];
    assert!(shelf.starts_with("shelf/"), "{shelf}");
    let shelf: serde_json::Value = serde_json::from_str(secret).unwrap();
    let held = shelf["secrets"].as_object().unwrap().len();
    assert_eq!(held, 2 * SECRETS_PER_WRITER);

    for w in 0..2 {
        for key in shelf_writer_keys(w) {
            keyring.delete(&key).await.unwrap();
        }
    }
    assert_eq!(secret_tool_items(), vec![], "empty shelves are no items");
}

#[tokio::test]
#[ignore = "run by shelves_child"]
async fn shelf_writer_child() {
    let dir = PathBuf::from(std::env::var_os(SHELF_DIR_ENV).unwrap());
    let w: usize = std::env::var(SHELF_WRITER_ENV).unwrap().parse().unwrap();
    let keyring = Secrets::keyring_for_data_dir(&dir).unwrap();
    for (i, key) in shelf_writer_keys(w).iter().enumerate() {
        keyring
            .set(key, &SecretString::new(format!("token {w} {i}")))
            .await
            .unwrap();
    }
}

/// Every item of service `lanyard` as `secret-tool search --all` prints them: (username,
/// secret). It prints each item's secret on stdout and its attributes on stderr, item by item
/// in the same order.
fn secret_tool_items() -> Vec<(String, String)> {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "--unlock", "service", SERVICE])
        .output()
        .expect("secret-tool runs");
    let values = |text: &[u8], name: &str| -> Vec<String> {
        String::from_utf8_lossy(text)
            .lines()
            .filter_map(|l| l.strip_prefix(name))
            .map(str::to_owned)
            .collect()
    };
    let users = values(&out.stderr, "attribute.username = ");
    let secrets = values(&out.stdout, "secret = ");
    assert_eq!(users.len(), secrets.len(), "one username per item");
    users.into_iter().zip(secrets).collect()
}

/// Runs `no_session_bus_child` in a child process whose session bus address points nowhere
/// (changing the environment of this multi-threaded process would be unsound).
#[test]
fn without_a_session_bus_the_error_says_what_to_do() {
    let mut child = own_test("keyring::no_session_bus_child");
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

/// A login keyring with a password, the daemon restarted without unlocking it (and no display,
/// so no unlock prompt can appear).
#[test]
fn a_locked_keyring_says_how_to_unlock() {
    in_private_keyring(KeyringState::Locked, "keyring::locked_keyring_child");
}

#[tokio::test]
#[ignore = "run by a_locked_keyring_says_how_to_unlock in a private keyring"]
async fn locked_keyring_child() {
    let keyrings = keyrings_dir();
    assert!(
        keyrings.join("login.keyring").is_file(),
        "the state under test: a login keyring exists in {}",
        keyrings.display()
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
    for needle in [
        "the keyring is locked",
        "unlock it",
        "gnome-keyring-daemon --replace --unlock",
        "LANYARD_SECRET_STORE=file",
    ] {
        assert!(
            err.message.contains(needle),
            "{needle:?} in: {}",
            err.message
        );
    }
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

/// A fresh home: the daemon runs, but no login keyring was ever created. A different state from
/// a locked one, with its own advice.
#[test]
fn without_a_login_keyring_says_how_to_create_one() {
    in_private_keyring(
        KeyringState::NoLoginKeyring,
        "keyring::no_login_keyring_child",
    );
}

#[tokio::test]
#[ignore = "run by without_a_login_keyring_says_how_to_create_one in a private keyring"]
async fn no_login_keyring_child() {
    let keyrings = keyrings_dir();
    let keyring_files: Vec<PathBuf> = std::fs::read_dir(&keyrings)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "keyring"))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        keyring_files.is_empty(),
        "the state under test: no keyring files, found {keyring_files:?}"
    );
    let keyring = Secrets::keyring()
        .unwrap()
        .with_timeout(Duration::from_secs(5));
    let err = keyring
        .set("lanyard-test/no-login-keyring", &SecretString::new("v"))
        .await
        .unwrap_err();
    println!("error shown to the user: {}", err.message);
    assert_eq!(err.code, ErrorCode::SecretStore);
    for needle in [
        "no login keyring yet",
        "create one",
        "Passwords and Keys",
        "LANYARD_SECRET_STORE=file",
    ] {
        assert!(
            err.message.contains(needle),
            "{needle:?} in: {}",
            err.message
        );
    }
    assert!(!err.message.contains("locked"), "{}", err.message);
    let health = keyring.health().await;
    assert!(!health.ok);
    assert!(
        health.message.contains("no login keyring yet"),
        "{}",
        health.message
    );
}

/// The private keyring's directory, as scripts/with-secret-service.sh announces it.
fn keyrings_dir() -> PathBuf {
    assert_eq!(
        std::env::var(CHILD_ENV).as_deref(),
        Ok("1"),
        "only meaningful in a child process"
    );
    PathBuf::from(
        std::env::var_os("LANYARD_TEST_KEYRINGS_DIR")
            .expect("scripts/with-secret-service.sh sets LANYARD_TEST_KEYRINGS_DIR"),
    )
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
