//! `lanyard-sim` as a child process: the already built binary of the main workspace, on
//! ephemeral ports, with its control API (`lanyard_sim::control`) one call away.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use lanyard_sim::control::SimControl;
use serde_json::Value;

/// The simulator binary: `$LANYARD_SIM_BINARY`, else the debug build next to the app binary.
pub fn sim_binary() -> PathBuf {
    let path = std::env::var_os("LANYARD_SIM_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            super::app_binary()
                .parent()
                .expect("the app binary has a directory")
                .join("lanyard-sim")
        });
    assert!(
        path.is_file(),
        "simulator binary {} not found: build the workspace first (`make test` does), or set LANYARD_SIM_BINARY",
        path.display()
    );
    path
}

/// The five simulated services. Stopped (SIGTERM) when dropped.
pub struct Sim {
    child: Child,
    // Kept open: the simulator must never write into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    endpoints: Value,
}

impl Sim {
    pub fn start() -> Sim {
        let mut child = Command::new(sim_binary())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start lanyard-sim");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        stdout
            .read_line(&mut line)
            .expect("read the simulator's endpoints");
        let endpoints: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!("lanyard-sim printed {line:?} instead of its endpoints: {e}")
        });
        Sim {
            child,
            _stdout: stdout,
            endpoints,
        }
    }

    /// The base URL of a service (`coolkit` is a template with `{region}`).
    pub fn endpoint(&self, service: &str) -> String {
        self.endpoints[service]
            .as_str()
            .unwrap_or_else(|| panic!("no endpoint for {service} in {}", self.endpoints))
            .to_string()
    }

    /// The control API of a service's simulator (docs/simulator-control.md).
    pub fn control(&self, service: &str) -> SimControl {
        SimControl::new(&self.endpoint(service))
    }

    /// The answer to the captcha the service showed last.
    pub async fn captcha_answer(&self, service: &str) -> String {
        self.control(service)
            .captcha_answer(None)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The code the service sent to `user` last (or its current TOTP code).
    pub async fn last_code(&self, service: &str, user: &str) -> String {
        self.control(service)
            .last_code(user)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .code
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        super::driver::terminate(&mut self.child, Duration::from_secs(5));
    }
}
