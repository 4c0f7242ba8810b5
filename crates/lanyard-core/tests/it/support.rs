//! What the core's integration tests share: an in-process `lanyard-sim` on loopback, its
//! `/__sim/*` control API, a `Ctx` built around an `Account` the test constructs, and this
//! test binary started again as a child process (for a second Lanyard process, or a test body
//! that must run inside a private keyring session).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use lanyard_core::http::{Http, HttpConfig};
use lanyard_core::manager::Manager;
use lanyard_core::secrets::Secrets;
use lanyard_core::services::{Ctx, LoginOutcome, Progress};
use lanyard_core::{Account, Error, ErrorCode, SecretString, ServiceId};
use lanyard_sim::control::SimControl;

/// A running simulator plus the HTTP client the services under test use.
pub struct Sim {
    running: lanyard_sim::Running,
    pub http: Http,
}

/// Starts every simulator on ephemeral loopback ports.
pub async fn sim() -> Sim {
    let running = lanyard_sim::start(lanyard_sim::SimConfig { port_base: None })
        .await
        .expect("start lanyard-sim");
    Sim {
        running,
        http: Http::new(HttpConfig::default()).expect("http client"),
    }
}

impl Sim {
    pub fn endpoints(&self) -> &lanyard_sim::Endpoints {
        self.running.endpoints()
    }

    /// The control API of the simulator behind `endpoint` (any URL on its listener).
    pub fn control(&self, endpoint: &str) -> SimControl {
        SimControl::new(endpoint)
    }

    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}

/// `http://127.0.0.1:P` from an endpoint or a template such as `http://127.0.0.1:P/{region}`.
pub fn listener_root(endpoint: &str) -> String {
    let url = url::Url::parse(&endpoint.replace("{region}", "x")).expect("endpoint URL");
    format!(
        "{}://{}",
        url.scheme(),
        url.host_str()
            .zip(url.port())
            .map(|(h, p)| format!("{h}:{p}"))
            .unwrap()
    )
}

/// An account as the Manager would hand it to a service.
pub fn account(
    service: ServiceId,
    user: &str,
    endpoint: &str,
    options: &[(&str, &str)],
) -> Account {
    Account {
        id: uuid::Uuid::new_v4().to_string(),
        name: format!("{service}/{user}"),
        service,
        user: user.to_string(),
        endpoint: endpoint.to_string(),
        options: options_map(options),
        remember_password: false,
        active: true,
        created_at: Utc::now(),
    }
}

/// Plain options (`appid`, `version`, `ca_file`…) as an account holds them.
pub fn options_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A Manager on `dir`'s database with secrets in memory.
pub fn memory_manager(dir: &Path) -> Manager {
    Manager::with_parts(
        &dir.join("lanyard.db"),
        Secrets::memory(),
        HttpConfig::default(),
    )
    .unwrap()
}

/// Secret options (`appsecret`, `api_token`…).
pub fn secrets(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretString> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), SecretString::new(*v)))
        .collect()
}

pub fn ctx<'a>(
    http: &'a Http,
    account: &'a Account,
    secret_options: &'a BTreeMap<String, SecretString>,
) -> Ctx<'a> {
    Ctx {
        http,
        account,
        secret_options,
        now: Utc::now(),
    }
}

/// The finished login of a `Progress`; panics on a challenge.
pub fn done(progress: Progress) -> LoginOutcome {
    match progress {
        Progress::Done(outcome) => *outcome,
        Progress::Challenge { challenge, .. } => {
            panic!("expected a finished login, got {challenge:?}")
        }
    }
}

/// The error of a result that must have failed, checked against the expected code.
#[track_caller]
pub fn fails_with<T: std::fmt::Debug>(result: Result<T, Error>, code: ErrorCode) -> Error {
    match result {
        Ok(v) => panic!("expected {code:?}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(
                e.code, code,
                "unexpected error: {} / {:?}",
                e.message, e.server_message
            );
            e
        }
    }
}

// ------------------------------------------------------------- this test binary as a child

/// The arguments that make this test binary run just the `#[ignore]`d test `test_path`, its
/// full path in this binary (`module::name`: `--exact` matches nothing else).
pub fn own_test_args(test_path: &str) -> [&str; 5] {
    [
        test_path,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]
}

/// This test binary again, running just the `#[ignore]`d test `test_path` (`module::name`).
pub fn own_test(test_path: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(own_test_args(test_path));
    command
}

// ------------------------------------------------------------------ private keyrings

/// Set (to "1") in a child that runs inside a private keyring session.
pub const CHILD_ENV: &str = "LANYARD_KEYRING_TEST_CHILD";

/// What the private keyring looks like when a child starts (scripts/with-secret-service.sh's
/// `--state`).
#[derive(Clone, Copy)]
pub enum KeyringState {
    Unlocked,
    Locked,
    NoLoginKeyring,
}

impl KeyringState {
    fn as_arg(self) -> &'static str {
        match self {
            KeyringState::Unlocked => "unlocked",
            KeyringState::Locked => "locked",
            KeyringState::NoLoginKeyring => "no-login-keyring",
        }
    }
}

/// The keyring of the child's private session, once a probe write succeeds (a Secret Service
/// that has just started can refuse the first calls).
pub async fn usable_keyring() -> Secrets {
    assert_eq!(
        std::env::var(CHILD_ENV).as_deref(),
        Ok("1"),
        "only meaningful in a child process"
    );
    let keyring = Secrets::keyring()
        .unwrap_or_else(|e| panic!("the private keyring is required here: {}", e.message));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let health = keyring.health().await;
        if health.ok {
            return keyring;
        }
        assert!(
            Instant::now() < deadline,
            "the keyring never became usable: {}",
            health.message
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs the child test `test_path` (`module::name`) in a new private keyring in `state`. No
/// display: a locked or missing keyring must fail, not wait for a person at an unlock prompt.
pub fn in_private_keyring(state: KeyringState, test_path: &str) {
    if !tools_or_skip(
        test_path,
        &[
            "dbus-run-session",
            "dbus-send",
            "gnome-keyring-daemon",
            "secret-tool",
        ],
    ) {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/with-secret-service.sh");
    let mut command = Command::new(script);
    command
        .args(["--state", state.as_arg()])
        .arg(std::env::current_exe().unwrap())
        .args(own_test_args(test_path))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY");
    run_child(command);
}

/// Runs a re-invocation of this test binary and expects its one test to pass.
pub fn run_child(mut command: Command) {
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
    // Shown with --nocapture: the message a person would get.
    println!("{stdout}");
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
