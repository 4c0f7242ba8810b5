//! `make bench`: Lanyard's performance figures, each with the conditions it was taken under and,
//! where there is one, next to a floor measured in the same run (curl, `secret-tool lookup`, a
//! minimal Tauri app).
//! Commands compared with each other are timed in turn (A B A B ...), so a change in the
//! machine's load touches both alike. It measures; nothing here passes or fails on a number.
//!
//! The Makefile builds what it measures (release binaries and examples) and runs this program
//! under `xvfb-run` and `scripts/with-secret-service.sh`, so every section has an X display and
//! a private session bus with an unlocked gnome-keyring. bench/README.md lists the figures.
//!
//! Environment: `BENCH_ONLY="cli sim desktop keepalive"` (a subset), `BENCH_QUICK=1` (a smoke
//! run: fewer runs, shorter idle; marked in the summary), `BENCH_WAIT_IDLE=LOAD` (first wait up
//! to 15 min for the 1-minute load average to drop below LOAD), `BENCH_APP_ACCOUNTS="200 1000"`
//! (the account counts the desktop app is measured at, in increasing order).

mod cli;
mod desktop;
mod keepalive;
mod procs;
mod sim;
mod stats;
mod x11;

use std::fmt::Write as _;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitCode, Stdio};
use std::time::Duration;

use lanyard_sim::Endpoints;
use lanyard_sim::control::SimControl;

/// How many runs each figure takes.
pub struct Counts {
    pub cli_runs: usize,
    pub cli_warmup: usize,
    pub sim_runs: usize,
    pub load_secs: u64,
    pub load_concurrency: usize,
    pub app_launches: usize,
    pub app_idle_secs: f64,
    pub app_cpu_secs: f64,
    /// The account counts the desktop app is measured at (four signed in), each against the
    /// floor.
    pub app_accounts: Vec<usize>,
    /// Lanyard's reopenings from the tray per account count.
    pub app_reopens: usize,
    pub keepalive_idle_secs: u64,
}

impl Counts {
    fn new(quick: bool) -> Counts {
        Counts {
            cli_runs: if quick { 20 } else { 100 },
            cli_warmup: if quick { 3 } else { 10 },
            sim_runs: if quick { 5 } else { 20 },
            load_secs: if quick { 3 } else { 10 },
            load_concurrency: 16,
            app_launches: if quick { 5 } else { 7 },
            app_idle_secs: if quick { 2.0 } else { 5.0 },
            app_cpu_secs: if quick { 10.0 } else { 30.0 },
            app_accounts: std::env::var("BENCH_APP_ACCOUNTS")
                .ok()
                .map(|v| {
                    v.split_whitespace()
                        .filter_map(|n| n.parse().ok())
                        .collect()
                })
                .filter(|v: &Vec<usize>| !v.is_empty())
                .unwrap_or_else(|| vec![200, 1000]),
            app_reopens: if quick { 3 } else { 7 },
            keepalive_idle_secs: if quick { 10 } else { 60 },
        }
    }
}

/// One line of the summary table.
pub struct Row {
    pub figure: String,
    pub value: String,
    pub conditions: String,
}

pub struct Bench {
    /// The release binaries (`target/release`).
    pub release: PathBuf,
    /// `target/bench`: the summary and the app's log.
    pub out: PathBuf,
    /// Scratch space, removed at the end.
    pub tmp: PathBuf,
    pub counts: Counts,
    pub rows: Vec<Row>,
    rt: tokio::runtime::Runtime,
}

impl Bench {
    pub fn row(
        &mut self,
        figure: impl Into<String>,
        value: impl Into<String>,
        conditions: impl Into<String>,
    ) {
        self.rows.push(Row {
            figure: figure.into(),
            value: value.into(),
            conditions: conditions.into(),
        });
    }

    /// Runs one future (a simulator control call) to completion.
    pub fn block<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.release.join(name)
    }
}

/// A release `lanyard-sim` process, stopped when dropped.
pub struct SimProcess {
    child: Child,
    // Kept open: the simulator must never write into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    pub endpoints: Endpoints,
}

impl SimProcess {
    pub fn start(binary: &Path) -> Result<SimProcess, String> {
        let mut child = procs::spawn_group(
            Command::new(binary)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        )
        .map_err(|e| format!("start {}: {e}", binary.display()))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .map_err(|e| format!("read lanyard-sim's endpoints: {e}"))?;
        let endpoints = serde_json::from_str(&line)
            .map_err(|e| format!("lanyard-sim printed {line:?} instead of its endpoints: {e}"))?;
        Ok(SimProcess {
            child,
            _stdout: stdout,
            endpoints,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn control(&self, endpoint: &str) -> SimControl {
        SimControl::new(endpoint)
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        procs::stop_group(self.child.id() as i32);
        let _ = self.child.wait();
    }
}

/// The table, columns padded like the summary has always been.
fn table(rows: &[Row]) -> String {
    let head = ("figure", "value", "conditions");
    let w0 = rows
        .iter()
        .map(|r| r.figure.chars().count())
        .chain([head.0.len()])
        .max()
        .unwrap_or(0);
    let w1 = rows
        .iter()
        .map(|r| r.value.chars().count())
        .chain([head.1.len()])
        .max()
        .unwrap_or(0);
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let mut out = format!("{}  {}  {}\n", pad(head.0, w0), pad(head.1, w1), head.2);
    let _ = writeln!(
        out,
        "{}  {}  {}",
        "-".repeat(w0),
        "-".repeat(w1),
        "-".repeat(10)
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{}  {}  {}",
            pad(&r.figure, w0),
            pad(&r.value, w1),
            r.conditions
        );
    }
    out
}

fn wait_idle() {
    let Some(max) = std::env::var("BENCH_WAIT_IDLE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
    else {
        return;
    };
    for i in 0..90 {
        let l = procs::load1();
        if l < max {
            return;
        }
        if i % 6 == 0 {
            eprintln!("bench: load average {l} >= {max}; waiting for the machine to calm down");
        }
        std::thread::sleep(Duration::from_secs(10));
    }
    eprintln!(
        "bench: still busy after 15 min (load {}); measuring anyway",
        procs::loadavg()
    );
}

fn git_revision() -> String {
    let rev = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let clean = Command::new("git")
        .args(["diff", "--quiet", "HEAD"])
        .status()
        .is_ok_and(|s| s.success());
    if clean {
        rev
    } else {
        format!("{rev} (with uncommitted changes)")
    }
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(": "))
        .map_or("?", |(_, m)| m)
        .to_owned();
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1_048_576.0);
    let kernel = Command::new("uname")
        .arg("-sr")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores ({model}), {mem_gib:.1} GiB RAM, {kernel}")
}

fn local_time() -> String {
    Command::new("date")
        .arg("+%Y-%m-%d %H:%M:%S %Z")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn main() -> ExitCode {
    let root = std::env::current_dir().expect("a working directory");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let sections =
        std::env::var("BENCH_ONLY").unwrap_or_else(|_| "cli sim desktop keepalive".into());
    let has = |s: &str| sections.split_whitespace().any(|x| x == s);
    let quick = std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1");
    let out = target.join("bench");
    let tmp = std::env::temp_dir().join(format!("lanyard-bench.{}", std::process::id()));
    for dir in [&out, &tmp] {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("bench: {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // Ctrl-C or SIGTERM: stop what was started, leave nothing behind.
    rt.spawn({
        let tmp = tmp.clone();
        async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            let code = tokio::select! {
                _ = int.recv() => 130,
                _ = term.recv() => 143,
            };
            procs::stop_all();
            let _ = std::fs::remove_dir_all(&tmp);
            std::process::exit(code);
        }
    });
    let mut b = Bench {
        release: target.join("release"),
        out,
        tmp,
        counts: Counts::new(quick),
        rows: Vec::new(),
        rt,
    };

    wait_idle();
    let started = local_time();
    let revision = git_revision();
    let (load_start, compilers_start) = (procs::loadavg(), procs::compilers());

    // One simulator for the CLI, the accounts' endpoints and keep-alive; the simulator
    // section starts its own.
    let shared_sim = if has("cli") || has("desktop") || has("keepalive") {
        eprintln!("==> starting lanyard-sim for the CLI and the account endpoints");
        match SimProcess::start(&b.bin("lanyard-sim")) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("bench: {e}");
                None
            }
        }
    } else {
        None
    };
    let needs_sim = |b: &mut Bench, figure: &str| {
        b.row(
            figure,
            "not measured",
            "lanyard-sim did not start (see the log above)",
        );
    };
    if has("cli") {
        match &shared_sim {
            Some(sim) => cli::run(&mut b, sim),
            None => needs_sim(&mut b, "CLI: lanyard token sscms"),
        }
    }
    if has("sim") {
        sim::run(&mut b);
    }
    if has("desktop") {
        match &shared_sim {
            Some(sim) => desktop::run(&mut b, sim),
            None => needs_sim(&mut b, "App: desktop figures"),
        }
    }
    if has("keepalive") {
        keepalive::run(&mut b, shared_sim.as_ref());
    }
    drop(shared_sim);
    procs::stop_all();

    let (load_end, compilers_end) = (procs::loadavg(), procs::compilers());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut summary = format!("Lanyard bench -- {started} -- git {revision}\n");
    if quick {
        summary
            .push_str("QUICK MODE (BENCH_QUICK=1): fewer runs, shorter idle; not for comparison\n");
    }
    let _ = writeln!(summary, "Machine: {}", machine());
    let _ = writeln!(
        summary,
        "Load average (1/5/15 min): {load_start} at start, {load_end} at end (compiler processes \
         running: {compilers_start} at start, {compilers_end} at end); each row also states the \
         load when it was taken"
    );
    let first = |l: &str| {
        l.split(' ')
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    if first(&load_start).max(first(&load_end)) >= 1.5 {
        let _ = writeln!(
            summary,
            "NOTE: the machine was busy (other builds/tests on {cores} cores): timings are noisy and pessimistic"
        );
    }
    let _ = writeln!(
        summary,
        "Builds: release profile (workspace Cargo.toml), by `make bench`: lanyard-desktop and \
         its floor minimal-tauri-app (bench/minimal-app), both with custom-protocol, together; \
         lanyard, lanyard-sim and this harness together; the examples (login_load, \
         keepalive_idle, keepalive_round) separately"
    );
    summary.push('\n');
    summary.push_str(&table(&b.rows));
    let summary_path = b.out.join("summary.txt");
    if let Err(e) = std::fs::write(&summary_path, &summary) {
        eprintln!("bench: {}: {e}", summary_path.display());
    }
    eprintln!("\n==> summary (also in {})", summary_path.display());
    print!("{summary}");
    let _ = std::fs::remove_dir_all(&b.tmp);
    ExitCode::SUCCESS
}
