//! The desktop app under the X display and keyring the bench runs in: start-up (exec → a
//! visible window named `Lanyard`), PSS of the process tree with 0 and with 200 signed-out
//! accounts, and idle CPU with 200 accounts.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::procs::{self, CpuUse};
use crate::stats::{fmt_ms, summarize};
use crate::{Bench, SimProcess};

const TITLE: &str = "Lanyard";
const WARMUP: usize = 1;
/// How long a start-up launch runs after its window is mapped, before it is stopped.
const SETTLE: Duration = Duration::from_millis(500);

pub fn run(b: &mut Bench, sim: &SimProcess) {
    eprintln!("\n==> desktop app: start-up, memory, idle CPU");
    if std::env::var_os("DISPLAY").is_none() {
        b.row(
            "App: desktop figures",
            "not measured",
            "no X display: run it the way `make bench` does (under xvfb-run)",
        );
        return;
    }
    let load = procs::loadavg();
    if let Err(e) = measure(b, sim, &load) {
        eprintln!("bench: desktop: {e}");
        b.row(
            "App: desktop figures",
            "not measured",
            format!("{e} (see target/bench/desktop-app.log)"),
        );
    }
}

/// One launch of the app in its own process group, on its own data dir.
struct App {
    child: Child,
    data_dir: PathBuf,
}

impl App {
    fn processes(&self) -> Vec<(String, u64)> {
        procs::tree(self.child.id())
            .into_iter()
            .map(|p| (procs::process_name(p), procs::pss_kib(p).unwrap_or(0)))
            .collect()
    }

    /// Whether any process of the app holds a file of its data dir open.
    fn opened_data_dir(&self) -> bool {
        procs::tree(self.child.id()).into_iter().any(|p| {
            std::fs::read_dir(format!("/proc/{p}/fd")).is_ok_and(|fds| {
                fds.filter_map(Result::ok)
                    .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                    .any(|target| target.starts_with(&self.data_dir))
            })
        })
    }

    fn stop(mut self) {
        let pids = procs::tree(self.child.id());
        for &p in &pids {
            procs::terminate(p); // children that left the process group, if any
        }
        procs::stop_group(self.child.id() as i32);
        let _ = self.child.wait();
    }
}

fn visible_window() -> bool {
    Command::new("xdotool")
        .args(["search", "--onlyvisible", "--name", &format!("^{TITLE}$")])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.trim_ascii().is_empty())
}

struct Launcher<'a> {
    b: &'a Bench,
    log: File,
    failed: Vec<String>,
}

impl Launcher<'_> {
    /// Starts the app on a fresh data dir (a copy of `template`, if any) and waits for its
    /// window: answers the app and exec → mapped in ms. A launch that dies first is logged,
    /// counted and tried once more.
    fn launch(&mut self, tag: &str, template: Option<&Path>) -> Result<(App, f64), String> {
        let mut last = String::new();
        for attempt in 1..=2 {
            let data_dir = self.b.tmp.join(format!("{tag}-{attempt}"));
            match template {
                Some(t) => copy_dir(t, &data_dir),
                None => std::fs::create_dir_all(&data_dir),
            }
            .map_err(|e| format!("{}: {e}", data_dir.display()))?;
            let _ = writeln!(self.log, "--- launch {tag} (attempt {attempt})");
            match self.start(&data_dir) {
                Ok(ok) => return Ok(ok),
                Err(e) => {
                    eprintln!("[desktop] launch {tag} failed: {e}");
                    self.failed.push(format!("{tag}: {e}"));
                    last = e;
                }
            }
        }
        Err(last)
    }

    fn start(&mut self, data_dir: &Path) -> Result<(App, f64), String> {
        let log = self.log.try_clone().map_err(|e| e.to_string())?;
        let log2 = self.log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(self.b.bin("lanyard-desktop"));
        cmd.env("LANYARD_DATA_DIR", data_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        if std::env::var_os("LANYARD_SECRET_STORE").is_none() {
            cmd.env("LANYARD_SECRET_STORE", "keyring");
        }
        let t0 = Instant::now();
        let child = procs::spawn_group(&mut cmd).map_err(|e| format!("start the app: {e}"))?;
        let mut app = App {
            child,
            data_dir: data_dir.to_owned(),
        };
        loop {
            if visible_window() {
                return Ok((app, t0.elapsed().as_secs_f64() * 1000.0));
            }
            if let Ok(Some(status)) = app.child.try_wait() {
                app.stop();
                return Err(format!(
                    "the app exited with {status} before its window was mapped"
                ));
            }
            if t0.elapsed() > Duration::from_secs(60) {
                app.stop();
                return Err(format!("no visible window named {TITLE:?} within 60 s"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// `count` signed-out accounts spread over the five services (`lanyard add --no-login`).
fn make_accounts(b: &Bench, sim: &SimProcess, dir: &Path, count: usize) -> Result<f64, String> {
    let e = &sim.endpoints;
    let t0 = Instant::now();
    for i in 0..count {
        let user = format!("bench{i:03}");
        let email = format!("{user}@example.com");
        let args: Vec<&str> = match i % 5 {
            0 => vec!["sscms", "--user", &user, "--endpoint", &e.sscms],
            1 => vec![
                "steedos",
                "--user",
                &email,
                "--endpoint",
                &e.steedos,
                "--opt",
                "space_id=demo-space",
            ],
            2 => vec![
                "coolkit",
                "--user",
                &email,
                "--endpoint",
                &e.coolkit,
                "--opt",
                "appid=LanyardDemoAppId0000000000000001",
                "--opt",
                "appsecret=LanyardDemoAppSecret000000000001",
                "--opt",
                "region=us",
            ],
            3 => vec![
                "siyuan",
                "--user",
                &user,
                "--endpoint",
                &e.siyuan,
                "--opt",
                "api_token=lanyarddemotoken",
            ],
            _ => vec!["shopxo", "--user", &user, "--endpoint", &e.shopxo],
        };
        let out = Command::new(b.bin("lanyard"))
            .arg("--data-dir")
            .arg(dir)
            .arg("add")
            .args(&args)
            .arg("--no-login")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "lanyard add {} failed ({}): {}",
                args[0],
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    let listed = Command::new(b.bin("lanyard"))
        .arg("--data-dir")
        .arg(dir)
        .args(["list", "--json"])
        .output()
        .map_err(|e| e.to_string())?;
    let n = serde_json::from_slice::<serde_json::Value>(&listed.stdout)
        .ok()
        .and_then(|v| v.as_array().map(Vec::len))
        .unwrap_or(0);
    if n != count {
        return Err(format!(
            "expected {count} accounts in the template, `lanyard list` shows {n}"
        ));
    }
    Ok(t0.elapsed().as_secs_f64())
}

/// `name MiB, ...` by process name, largest first.
fn by_name(procs: &[(String, u64)]) -> String {
    let mut sums: Vec<(String, u64)> = Vec::new();
    for (name, kib) in procs {
        match sums.iter_mut().find(|(n, _)| n == name) {
            Some((_, s)) => *s += kib,
            None => sums.push((name.clone(), *kib)),
        }
    }
    sums.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    sums.iter()
        .map(|(n, kib)| format!("{n} {:.0}", *kib as f64 / 1024.0))
        .collect::<Vec<_>>()
        .join(", ")
}

fn mem(kib: u64) -> String {
    format!(
        "{:.0} MiB PSS ({:.0} MB)",
        kib as f64 / 1024.0,
        kib as f64 * 1.024 / 1000.0
    )
}

fn measure(b: &mut Bench, sim: &SimProcess, load: &str) -> Result<(), String> {
    let log_path = b.out.join("desktop-app.log");
    let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let counts = (
        b.counts.app_launches,
        b.counts.app_idle_secs,
        b.counts.app_accounts,
        b.counts.app_cpu_secs,
    );
    let (launches, idle, accounts, cpu_secs) = counts;
    let bench: &Bench = b;
    let mut l = Launcher {
        b: bench,
        log,
        failed: Vec::new(),
    };

    let mut times = Vec::new();
    for i in 0..WARMUP + launches {
        let (app, ms) = l.launch(&format!("startup-{i}"), None)?;
        std::thread::sleep(SETTLE);
        app.stop();
        let warm = if i < WARMUP {
            " (warm-up, discarded)"
        } else {
            ""
        };
        eprintln!("[desktop] launch {i}: window mapped after {ms:.0} ms{warm}");
        if i >= WARMUP {
            times.push(ms);
        }
    }

    let (app, _) = l.launch("mem-0", None)?;
    std::thread::sleep(Duration::from_secs_f64(idle));
    let mem0 = app.processes();
    app.stop();

    let template = bench.tmp.join("template-accounts");
    let made_in = make_accounts(bench, sim, &template, accounts)?;
    eprintln!("[desktop] created {accounts} accounts with the CLI in {made_in:.1} s");
    let (app, _) = l.launch(&format!("mem-{accounts}"), Some(&template))?;
    std::thread::sleep(Duration::from_secs_f64(idle));
    let mem_n = app.processes();
    let opened = app.opened_data_dir();
    let cpu: Option<CpuUse> = (cpu_secs > 0.0).then(|| {
        eprintln!("[desktop] idle CPU over {cpu_secs} s ...");
        procs::measure_cpu(app.child.id(), cpu_secs)
    });
    app.stop();
    let failed = l.failed.len();

    let st = summarize(&times);
    let store = std::env::var("LANYARD_SECRET_STORE").unwrap_or_else(|_| "keyring".into());
    let env = format!(
        "release lanyard-desktop (custom-protocol); xvfb-run -a, 1280x1024x24, dbus-run-session + \
         gnome-keyring, LANYARD_SECRET_STORE={store}, fresh LANYARD_DATA_DIR per launch"
    );
    let failed_note = if failed > 0 {
        format!("; {failed} launch(es) died before mapping and were retried (desktop-app.log)")
    } else {
        String::new()
    };
    b.row(
        "App: start-up (exec -> window mapped)",
        format!(
            "median {} (min {}, max {})",
            fmt_ms(st.median),
            fmt_ms(st.min),
            fmt_ms(st.max)
        ),
        format!(
            "{} launches after {WARMUP} warm-up{failed_note}, 0 accounts, polled with xdotool \
             search --onlyvisible every ~2 ms (+ poll cost, a few ms); {env}; load {load}; \
             reference: minimal Tauri 2 app 141-224 ms",
            st.n
        ),
    );
    let total = |p: &[(String, u64)]| p.iter().map(|(_, k)| k).sum::<u64>();
    b.row(
        "App: memory, 0 accounts",
        mem(total(&mem0)),
        format!(
            "sum of /proc/PID/smaps_rollup Pss over {} processes (MiB: {}) after the window was \
             up and idle {idle} s; reference: ~252 MB minimal Tauri 2 app (3 processes)",
            mem0.len(),
            by_name(&mem0)
        ),
    );
    b.row(
        format!("App: memory, {accounts} accounts"),
        mem(total(&mem_n)),
        format!(
            "{accounts} accounts made with `lanyard add --no-login` (signed out, no sessions), 5 \
             services x {}; {} processes (MiB: {}); app had a file of the data dir open: {}",
            accounts / 5,
            mem_n.len(),
            by_name(&mem_n),
            if opened { "yes" } else { "no" }
        ),
    );
    if let Some(c) = cpu {
        let mut by: Vec<_> = c.by_process.iter().collect();
        by.sort_by(|a, b| b.1.total_cmp(a.1));
        let by = by
            .iter()
            .map(|(n, s)| format!("{n} {s:.2} s"))
            .collect::<Vec<_>>()
            .join(", ");
        b.row(
            format!("App: idle CPU, {accounts} accounts"),
            format!("{:.2}% of one core", c.pct_of_one_core()),
            format!(
                "utime+stime from /proc/PID/stat summed over {} processes over {:.0} s idle \
                 (window mapped, no input, accounts signed out); {:.2} s CPU in total ({by})",
                c.processes, c.wall_s, c.cpu_s
            ),
        );
    }
    Ok(())
}
