//! tauri-driver as a child process: started on free ports, polled until it answers, and
//! stopped with SIGTERM, never SIGKILL (which would orphan WebKitWebDriver).
//!
//! Stopping also waits for everything tauri-driver started (WebKitWebDriver, the app and its
//! WebKit processes) to be gone: the app is single-instance per D-Bus session, so one left
//! running would turn the next test's app into a "second instance" that exits at once.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// The D-Bus name a running Lanyard holds (tauri.conf.json's identifier + ".SingleInstance").
const SINGLE_INSTANCE_NAME: &str = "dev.lanyard.desktop.SingleInstance";

pub struct TauriDriver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl TauriDriver {
    /// Starts tauri-driver (`$TAURI_DRIVER` or `tauri-driver` on PATH) with `env` passed on to
    /// WebKitWebDriver and so to the app, and waits until its `/status` answers.
    pub async fn start(env: &[(String, String)]) -> TauriDriver {
        wait_until_no_instance_runs().await;
        let port = free_port();
        let native_port = free_port();
        let program = std::env::var("TAURI_DRIVER").unwrap_or_else(|_| "tauri-driver".into());
        let log = super::artifacts_dir().join(format!("tauri-driver-{port}.log"));
        let log_file = File::create(&log).expect("create the tauri-driver log");
        let child = Command::new(&program)
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .envs(env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("share the log file"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("could not start {program}: {error} (install it: cargo install tauri-driver --locked)")
            });
        let mut driver = TauriDriver { child, port, log };
        driver.wait_until_ready().await;
        driver
    }

    /// tauri-driver's process id (WebKitWebDriver and the app run below it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where tauri-driver, WebKitWebDriver and the app write their output.
    pub fn log(&self) -> &std::path::Path {
        &self.log
    }

    async fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("poll tauri-driver") {
                panic!(
                    "tauri-driver exited at start with {status}; see {}",
                    self.log.display()
                );
            }
            if status_is_ok(self.port) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "tauri-driver did not answer /status on port {} within {STARTUP_TIMEOUT:?}",
            self.port
        );
    }
}

impl Drop for TauriDriver {
    fn drop(&mut self) {
        // Collected first: once tauri-driver is gone its children are re-parented and can no
        // longer be told apart from anyone else's processes.
        let descendants = descendants(self.child.id());
        terminate(&mut self.child, SHUTDOWN_TIMEOUT);
        for &pid in descendants.iter().rev() {
            if is_running(pid) {
                signal_term(pid);
            }
        }
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        while Instant::now() < deadline && descendants.iter().any(|&pid| is_running(pid)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let left: Vec<u32> = descendants
            .into_iter()
            .filter(|&pid| is_running(pid))
            .collect();
        if !left.is_empty() {
            eprintln!(
                "processes {left:?} started by tauri-driver outlived SIGTERM by {SHUTDOWN_TIMEOUT:?}"
            );
        }
    }
}

/// Waits until no Lanyard holds the single-instance name on the session bus. A process that has
/// exited can still own it for a moment, until the bus has seen the connection close; an app
/// launched then hands over to nobody and exits, and its WebDriver session never starts.
pub async fn wait_until_no_instance_runs() {
    let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
    while let Some(pid) = single_instance_owner() {
        assert!(
            Instant::now() < deadline,
            "process {pid} still holds {SINGLE_INSTANCE_NAME} after {SHUTDOWN_TIMEOUT:?}: an \
             earlier Lanyard is running in this D-Bus session"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The pid of the process that owns [`SINGLE_INSTANCE_NAME`], if any (asked with `dbus-send`).
fn single_instance_owner() -> Option<u32> {
    let output = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            &format!("string:{SINGLE_INSTANCE_NAME}"),
        ])
        .output()
        .expect("run dbus-send (Debian package dbus-bin)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("NameHasNoOwner") {
        return None;
    }
    let pid = stdout
        .split_whitespace()
        .skip_while(|&word| word != "uint32")
        .nth(1)
        .and_then(|pid| pid.parse().ok());
    Some(pid.unwrap_or_else(|| {
        panic!("could not ask the session bus who holds {SINGLE_INSTANCE_NAME}: {stderr}")
    }))
}

/// Sends SIGTERM to a child and waits up to `timeout` for it to exit.
pub fn terminate(child: &mut Child, timeout: Duration) {
    if child.try_wait().ok().flatten().is_some() {
        return;
    }
    signal_term(child.id());
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "process {} did not exit within {timeout:?} of SIGTERM; leaving it",
        child.id()
    );
}

pub fn signal_term(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is one of our descendants.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

/// The running processes below `root`, as `(pid, name)` (`/proc/<pid>/comm`, which the kernel
/// cuts at 15 bytes: WebKit's web process shows as `WebKitWebProces`).
pub fn running_descendants(root: u32) -> Vec<(u32, String)> {
    descendants(root)
        .into_iter()
        .filter(|&pid| is_running(pid))
        .map(|pid| {
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            (pid, name.trim().to_string())
        })
        .collect()
}

/// All processes below `root`, parents before children, read from /proc.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some((_, ppid)) = stat_of(pid) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        index += 1;
    }
    found.remove(0);
    found
}

/// A process's state letter and parent pid, from /proc/<pid>/stat.
fn stat_of(pid: u32) -> Option<(char, u32)> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The state letter and parent pid in a process's or thread's `stat` line.
fn parse_stat(stat: &str) -> Option<(char, u32)> {
    // The command name may contain spaces and parentheses; the fields after the last ')' don't.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Whether any thread of a process is still alive. The main thread can be a zombie while others
/// still run (`ps` shows `Zl`): the process then still holds its files and its D-Bus names.
pub fn is_running(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        std::fs::read_to_string(task.path().join("stat"))
            .ok()
            .and_then(|stat| parse_stat(&stat))
            .is_some_and(|(state, _)| state != 'Z' && state != 'X')
    })
}

/// An unused loopback port (bound, read and released; tauri-driver takes it a moment later).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("find a free port")
}

/// Whether `GET /status` on the port answers 200. Plain HTTP/1.0 keeps this free of a client.
fn status_is_ok(port: u16) -> bool {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /status HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200")
}
