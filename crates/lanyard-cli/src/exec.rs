//! `lanyard exec <name|service> [--min-ttl DURATION] -- CMD [ARG]...`: runs CMD with a fresh
//! token in its environment (docs/architecture.md "CLI contract"). The token goes only into
//! the child's environment: never into an argument, never onto Lanyard's own output.

use std::ffi::OsString;
use std::time::Duration;

use lanyard_core::manager::Manager;
use lanyard_core::{Error, Result};

/// Variables a parent environment may hold from another account: removed before the child's
/// own are set, so a stale `LANYARD_TOKEN_QUERY_NAME` of another service cannot linger.
const OWN_VARIABLES: &[&str] = &[
    "LANYARD_TOKEN",
    "LANYARD_ACCOUNT",
    "LANYARD_SERVICE",
    "LANYARD_EXPIRES_AT",
    "LANYARD_TOKEN_HEADER",
    "LANYARD_TOKEN_HEADER_NAME",
    "LANYARD_TOKEN_HEADER_VALUE",
    "LANYARD_TOKEN_QUERY_NAME",
    "LANYARD_TOKEN_QUERY_VALUE",
    "LANYARD_ENDPOINT",
];

/// Runs the command and returns the exit status Lanyard should end with: the command's own, or
/// 128 + n when a signal n ended it. Errors before the command starts follow the contract.
pub async fn run(
    manager: &Manager,
    target: &str,
    min_ttl: Option<Duration>,
    command: &[OsString],
) -> Result<i32> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Error::invalid_input("exec needs a command after --"))?;
    let handoff = manager.handoff(target, min_ttl).await?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    for name in OWN_VARIABLES {
        cmd.env_remove(name);
    }
    for (name, value) in &handoff.vars {
        cmd.env(name, value.expose());
    }
    drop(handoff);

    // Registered before the child starts, so no signal slips past between the two.
    #[cfg(unix)]
    let mut signals = Forwarded::register()?;
    let mut child = cmd.spawn().map_err(|e| {
        Error::invalid_input(format!("cannot run '{}': {e}", program.to_string_lossy()))
    })?;
    #[cfg(unix)]
    let status = {
        let pid = child.id();
        loop {
            tokio::select! {
                status = child.wait() => break status,
                Some(signal) = signals.next() => {
                    if let Some(pid) = pid {
                        // SAFETY: kill(2) with our own child's pid and a valid signal number; the
                        // child is not reaped before `wait` returns, so the pid is still ours.
                        unsafe { libc::kill(pid as libc::pid_t, signal) };
                    }
                }
            }
        }
    };
    // On Windows, Ctrl-C and Ctrl-Break reach every process on the console, the command too:
    // Lanyard only has to outlive the command to return its status, so while it waits it
    // takes its own copy of those events (a live listener marks them handled) instead of
    // dying of them.
    #[cfg(windows)]
    let status = {
        let _ctrl_c = tokio::signal::windows::ctrl_c();
        let _ctrl_break = tokio::signal::windows::ctrl_break();
        child.wait().await
    };
    #[cfg(not(any(unix, windows)))]
    let status = child.wait().await;
    let status =
        status.map_err(|e| Error::internal(format!("cannot wait for the command: {e}")))?;
    Ok(exit_code(status))
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    1
}

/// SIGINT, SIGTERM and SIGHUP received by Lanyard, to pass on to the child.
#[cfg(unix)]
struct Forwarded {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Forwarded {
    fn register() -> Result<Forwarded> {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind| {
            signal(kind).map_err(|e| Error::internal(format!("cannot watch for signals: {e}")))
        };
        Ok(Forwarded {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
            hangup: listen(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> Option<libc::c_int> {
        tokio::select! {
            s = self.interrupt.recv() => s.map(|()| libc::SIGINT),
            s = self.terminate.recv() => s.map(|()| libc::SIGTERM),
            s = self.hangup.recv() => s.map(|()| libc::SIGHUP),
        }
    }
}
