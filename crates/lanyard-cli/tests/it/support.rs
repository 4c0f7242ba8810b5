//! What the CLI tests share: the real `lanyard` binary run with a clean environment, its
//! outcome, a data dir on the file store next to a running lanyard-sim, the simulators' control
//! routes, and a pseudo-terminal (util-linux `script`) answered as a person would.
//!
//! The binary is cargo's own build, or `LANYARD_CLI_EXE` started through `LANYARD_CLI_RUNNER`
//! when set: scripts/windows/test-cli-under-wine.sh runs this suite against the Windows
//! `lanyard.exe` under Wine that way, the simulators staying on the Linux side.

use std::ffi::OsString;
use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lanyard_core::SecretString;
use lanyard_core::http::HttpConfig;
use lanyard_core::manager::Manager;
use lanyard_core::secrets::Secrets;
use lanyard_core::secrets::file::{FileBackend, KdfParams};
use lanyard_sim::control::SimControl;
use lanyard_sim::{Running, SimConfig};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The file store's passphrase in a [`World`].
pub const FILE_STORE_PASSPHRASE: &str = "cli test passphrase";

/// How long one `lanyard` run may take before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(120);

// ---- running the binary ----------------------------------------------------------------------

/// The `lanyard` binary under test: `LANYARD_CLI_EXE`, else the one cargo built.
pub fn lanyard_exe() -> OsString {
    std::env::var_os("LANYARD_CLI_EXE").unwrap_or_else(|| env!("CARGO_BIN_EXE_lanyard").into())
}

/// The program that starts [`lanyard_exe`] (Wine for the Windows build), if any.
pub fn lanyard_runner() -> Option<OsString> {
    std::env::var_os("LANYARD_CLI_RUNNER").filter(|runner| !runner.is_empty())
}

/// Whether the binary under test is the Windows build, run under Wine.
pub fn under_wine() -> bool {
    lanyard_runner().is_some()
}

/// A path as `lanyard` printed it, as this process can open it: under Wine a Windows path
/// (`C:\users\...`, `Z:\tmp\...`) lies below the prefix's `dosdevices/c:` (a link to the
/// prefix's C: drive) or `dosdevices/z:` (a link to `/`).
pub fn host_path(printed: &str) -> PathBuf {
    let bytes = printed.as_bytes();
    let windows_path = bytes.len() > 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if !under_wine() || !windows_path {
        return PathBuf::from(printed);
    }
    let prefix = std::env::var_os("WINEPREFIX").expect("WINEPREFIX is set under Wine");
    let drive = format!("{}:", printed[..1].to_ascii_lowercase());
    let rest = printed[2..].trim_start_matches('\\').replace('\\', "/");
    Path::new(&prefix).join("dosdevices").join(drive).join(rest)
}

/// `lanyard` with none of the caller's settings that would change what it does: no proxy, no
/// CA override, no passphrase or token from the environment, no colour; stdio piped.
pub fn lanyard() -> Command {
    let mut cmd = match lanyard_runner() {
        Some(runner) => {
            let mut cmd = Command::new(runner);
            cmd.arg(lanyard_exe());
            cmd
        }
        None => Command::new(lanyard_exe()),
    };
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "LANYARD_PASSPHRASE",
        "LANYARD_PASSPHRASE_FILE",
        "LANYARD_EXPORT_PASSPHRASE_FILE",
        "LANYARD_TOKEN",
    ] {
        cmd.env_remove(name);
    }
    cmd.env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// [`lanyard`] with `data_dir` as its data dir.
pub fn lanyard_in(data_dir: &Path) -> Command {
    let mut cmd = lanyard();
    cmd.env("LANYARD_DATA_DIR", data_dir);
    cmd
}

/// [`lanyard_in`] on the file store, its passphrase in the environment.
pub fn lanyard_on_file_store(data_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = lanyard_in(data_dir);
    cmd.args(args)
        .env("LANYARD_SECRET_STORE", "file")
        .env("LANYARD_PASSPHRASE", FILE_STORE_PASSPHRASE);
    cmd
}

/// Each line with its line break, as typed on stdin.
pub fn lines(lines: &[&str]) -> String {
    lines.iter().map(|line| format!("{line}\n")).collect()
}

/// How a run of `lanyard` ended.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The bytes as written, for checks a lossy decoding would hide.
    pub raw_stdout: Vec<u8>,
    pub raw_stderr: Vec<u8>,
}

impl Outcome {
    fn of(output: std::process::Output) -> Outcome {
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            raw_stdout: output.stdout,
            raw_stderr: output.stderr,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Exit `code`, whatever was printed.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Exit `code` as the CLI contract has an error end: nothing on stdout, one line on stderr.
    #[track_caller]
    pub fn assert_exit(&self, code: i32) -> &Self {
        self.assert_code(code);
        assert!(
            self.stdout.trim().is_empty() || code == 0,
            "errors print nothing on stdout: {}",
            self.stdout
        );
        assert_eq!(
            self.stderr.trim().lines().count(),
            1,
            "an error is one line on stderr: {}",
            self.stderr
        );
        self
    }

    /// The error line (the last line on stderr).
    pub fn error_line(&self) -> &str {
        self.stderr.trim_end().lines().last().unwrap_or_default()
    }
}

/// Waits for the end of a spawned `lanyard`, collecting what it printed.
pub async fn finish(child: Child) -> Outcome {
    let output = tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .expect("lanyard finishes in time")
        .unwrap();
    Outcome::of(output)
}

/// Runs `cmd` with `stdin` written up front.
pub async fn run(mut cmd: Command, stdin: &str) -> Outcome {
    let mut child = cmd.spawn().expect("spawn lanyard");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    finish(child).await
}

/// Drives a prepared command through the line protocol: `first_lines` up front, then
/// `answer(prompt_line)` gives the reply (e.g. a captcha answer read from the simulator).
pub async fn interact<F, Fut>(mut cmd: Command, first_lines: &[&str], mut answer: F) -> Outcome
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Option<String>>,
{
    let mut child = cmd.spawn().expect("spawn lanyard");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(lines(first_lines).as_bytes())
        .await
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    while let Ok(Some(line)) = stderr.next_line().await {
        seen.push_str(&line);
        seen.push('\n');
        if let Some(reply) = answer(line).await {
            stdin
                .write_all(format!("{reply}\n").as_bytes())
                .await
                .unwrap();
        }
    }
    drop(stdin);
    let mut outcome = finish(child).await;
    outcome.stderr = seen + &outcome.stderr;
    outcome
}

// ---- files -----------------------------------------------------------------------------------

/// A directory as Lanyard makes one (0700): a looser data dir would be tightened with a notice
/// on stderr, a line the one-line error checks would count.
pub fn private_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .unwrap()
}

/// The permission bits of `path` itself (a symlink is not followed).
pub fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// lanyard-core's manager on `data_dir`'s database and secret file, as `lanyard` opens them; a
/// new secret file gets cheap Argon2 parameters (the CLI reads them from the file's header).
pub fn core_manager(data_dir: &Path, passphrase: &str) -> Manager {
    let backend = FileBackend::open_with_params(
        &data_dir.join("secrets.enc"),
        SecretString::new(passphrase),
        KdfParams {
            m_cost_kib: 256,
            t_cost: 1,
            p_cost: 1,
        },
    )
    .unwrap();
    Manager::with_parts(
        &data_dir.join("lanyard.db"),
        Secrets::from_backend(Arc::new(backend)),
        HttpConfig::default(),
    )
    .unwrap()
}

// ---- the simulators --------------------------------------------------------------------------

pub async fn start_sim() -> Running {
    lanyard_sim::start(SimConfig { port_base: None })
        .await
        .expect("simulators start")
}

pub fn endpoint_of(sim: &Running, service: &str) -> String {
    let e = sim.endpoints();
    match service {
        "steedos" => e.steedos.clone(),
        "sscms" => e.sscms.clone(),
        "coolkit" => e.coolkit.clone(),
        "siyuan" => e.siyuan.clone(),
        "shopxo" => e.shopxo.clone(),
        other => panic!("no simulator {other}"),
    }
}

/// The control API of the simulator behind `endpoint` (any URL on its listener).
pub fn sim_control(endpoint: &str) -> SimControl {
    SimControl::new(endpoint)
}

/// How many times the simulator behind `endpoint` served `route` (e.g. `coolkit.v2.refresh`).
pub async fn sim_hits(endpoint: &str, route: &str) -> u64 {
    sim_control(endpoint).stats().await.unwrap().count(route)
}

/// The simulators and a private data dir on the file store.
pub struct World {
    pub sim: Running,
    pub data: tempfile::TempDir,
}

impl World {
    pub async fn new() -> World {
        World {
            sim: start_sim().await,
            data: private_dir(),
        }
    }

    pub fn endpoint(&self, service: &str) -> String {
        endpoint_of(&self.sim, service)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        lanyard_on_file_store(self.data.path(), args)
    }

    /// Runs with the given stdin lines, all written up front.
    pub async fn run(&self, args: &[&str], stdin_lines: &[&str]) -> Outcome {
        run(self.command(args), &lines(stdin_lines)).await
    }

    /// Runs a login that answers prompts as they come (see [`interact`]).
    pub async fn run_interactive<F, Fut>(
        &self,
        args: &[&str],
        first_lines: &[&str],
        answer: F,
    ) -> Outcome
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        interact(self.command(args), first_lines, answer).await
    }

    /// The token `lanyard token TARGET` prints.
    pub async fn token(&self, target: &str) -> String {
        self.run(&["token", target], &[])
            .await
            .assert_ok()
            .stdout
            .trim()
            .to_owned()
    }

    /// The control API of `service`'s simulator.
    pub fn control(&self, service: &str) -> SimControl {
        sim_control(&self.endpoint(service))
    }

    pub async fn hits(&self, service: &str, route: &str) -> u64 {
        sim_hits(&self.endpoint(service), route).await
    }

    /// The answer of the captcha `service` served last.
    pub async fn captcha_answer(&self, service: &str) -> String {
        self.control(service).captcha_answer(None).await.unwrap()
    }

    /// The code `service` sent to `user` last (SiYuan: the TOTP code valid now).
    pub async fn last_code(&self, service: &str, user: &str) -> String {
        self.control(service).last_code(user).await.unwrap().code
    }
}

/// The names in `lanyard list --json` output, sorted.
pub fn account_names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

// ---- the terminal ----------------------------------------------------------------------------

/// `lanyard ARGS` as one `sh -c` line, each word quoted.
pub fn shell_line(args: &[&str]) -> String {
    let program = lanyard_runner().into_iter().chain([lanyard_exe()]);
    program
        .map(|word| word.to_string_lossy().into_owned())
        .chain(args.iter().map(|&arg| arg.to_owned()))
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A command on a pseudo-terminal (util-linux `script`), answered as a person would.
pub struct Terminal {
    child: Child,
    input: ChildStdin,
    output: Vec<u8>,
    reader: ChildStdout,
    /// How far [`Terminal::expect_next`] has read.
    seen: usize,
}

impl Terminal {
    /// `lanyard ARGS` on the terminal, with the environment `env` sets (e.g. a
    /// [`World::command`]); `None` when `script` is missing outside CI.
    pub fn start(env: &Command, args: &[&str]) -> Option<Terminal> {
        Self::start_shell(env, &shell_line(args))
    }

    /// `sh -c LINE` on the terminal (LINE quoted by the caller).
    pub fn start_shell(env: &Command, line: &str) -> Option<Terminal> {
        if std::process::Command::new("script")
            .arg("--version")
            .output()
            .is_err()
        {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "util-linux `script` is needed for the terminal test"
            );
            eprintln!("SKIPPED: util-linux `script` is not installed");
            return None;
        }
        let mut script = Command::new("script");
        script.args(["-qec", line, "/dev/null"]);
        for (name, value) in env.as_std().get_envs() {
            match value {
                Some(value) => script.env(name, value),
                None => script.env_remove(name),
            };
        }
        script
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = script.spawn().expect("start script");
        Some(Terminal {
            input: child.stdin.take().unwrap(),
            reader: child.stdout.take().unwrap(),
            child,
            output: Vec::new(),
            seen: 0,
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }

    /// Reads more of the terminal, failing with what it shows when nothing more comes.
    async fn read_more(&mut self, deadline: Instant, waiting_for: &str) {
        let mut buf = [0u8; 4096];
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.reader.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => panic!(
                "the terminal never showed {waiting_for}; it shows:\n{}",
                self.text()
            ),
            Ok(Ok(n)) => self.output.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => panic!("reading the terminal: {e}"),
        }
    }

    /// Waits until the terminal shows `needle` `count` times in all.
    pub async fn expect(&mut self, needle: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.text().matches(needle).count() < count {
            self.read_more(deadline, &format!("{needle:?} ({count}x)"))
                .await;
        }
    }

    /// Waits until the terminal shows `needle` after what the last call found.
    pub async fn expect_next(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = String::from_utf8_lossy(&self.output[self.seen..]).into_owned();
            if let Some(at) = text.find(needle) {
                self.seen += at + needle.len();
                return;
            }
            self.read_more(deadline, &format!("{needle:?}")).await;
        }
    }

    /// Types `text` and Enter, a moment after the prompt appeared: the prompt is written just
    /// before echo is turned off, and a person does not type faster than that.
    pub async fn type_line(&mut self, text: &str) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.send(format!("{text}\n").as_bytes()).await;
    }

    /// Sends `bytes` at once, as keys pressed (e.g. `\x03`, Ctrl-C).
    pub async fn send(&mut self, bytes: &[u8]) {
        self.input.write_all(bytes).await.unwrap();
        self.input.flush().await.unwrap();
    }

    /// Waits for the end: the exit status and all the terminal showed.
    pub async fn finish(mut self) -> (i32, String) {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(60), self.reader.read_to_end(&mut rest))
            .await
            .expect("lanyard finishes within 60 s")
            .unwrap();
        self.output.extend_from_slice(&rest);
        let shown = self.text();
        drop(self.input);
        let status = self.child.wait().await.unwrap();
        (status.code().unwrap_or(-1), shown)
    }
}
