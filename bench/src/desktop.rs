//! The desktop app against its floor, a minimal Tauri 2 app (bench/minimal-app: one window, one
//! static page, no plugins, the same release profile), under the same X display and keyring,
//! at each account count (four signed in and counting down, the rest signed out): start-up
//! (exec → window mapped, exec → first paint), PSS of the process tree and idle CPU with the
//! window shown, each with its ratio to the floor; for Lanyard also PSS and idle CPU with the
//! window closed to the tray and the time a second launch takes to bring the window back.
//! Launches of the two apps are taken in turn, so a change in the machine's load touches both
//! alike.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use x11rb::protocol::xproto::Window;

use crate::procs::{self, CpuUse};
use crate::stats::{Summary, fmt_ms, summarize};
use crate::x11::Display;
use crate::{Bench, SimProcess};

const WARMUP: usize = 1;
/// How long a start-up launch runs after its first paint, before it is stopped.
const SETTLE: Duration = Duration::from_millis(500);
/// How long an app has to map its window, and then to paint it.
const WINDOW_TIMEOUT: Duration = Duration::from_secs(60);
/// The WebKit process that renders a page; it is to go away when Lanyard closes to the tray.
const WEB_PROCESS: &str = "WebKitWebProcess";

/// One of the two apps measured.
struct Subject {
    name: &'static str,
    binary: &'static str,
    title: &'static str,
}

const FLOOR: Subject = Subject {
    name: "floor",
    binary: "minimal-tauri-app",
    title: "Minimal Tauri app",
};
const LANYARD: Subject = Subject {
    name: "Lanyard",
    binary: "lanyard-desktop",
    title: "Lanyard",
};

pub fn run(b: &mut Bench, sim: &SimProcess) {
    eprintln!("\n==> desktop app against a minimal Tauri app: start-up, memory, idle CPU, tray");
    if std::env::var_os("DISPLAY").is_none() {
        b.row(
            "App: desktop figures",
            "not measured",
            "no X display: run it the way `make bench` does (under xvfb-run)",
        );
        return;
    }
    let log_path = b.out.join("desktop-app.log");
    let setup = File::create(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))
        .and_then(|log| Ok((log, Display::open()?)));
    let (log, x) = match setup {
        Ok(ok) => ok,
        Err(e) => {
            eprintln!("bench: desktop: {e}");
            b.row("App: desktop figures", "not measured", e);
            return;
        }
    };
    let mut l = Launcher {
        release: b.release.clone(),
        tmp: b.tmp.clone(),
        x,
        log,
        failed: Vec::new(),
    };
    // Every count's data dir first, each the one before plus more accounts, before any app
    // runs: the apps' figures are then taken back to back.
    let mut templates = Vec::new();
    let mut made: Option<(usize, PathBuf)> = None;
    for count in b.counts.app_accounts.clone() {
        let template = b.tmp.join(format!("template-{count}-accounts"));
        let from = match &made {
            Some((n, dir)) => copy_dir(dir, &template)
                .map(|()| *n)
                .map_err(|e| format!("{}: {e}", template.display())),
            None => Ok(0),
        };
        let template = from.and_then(|from| {
            let made_in = make_accounts(b, sim, &template, from, count)?;
            eprintln!("[desktop] {count} accounts in the data dir ({made_in:.1} s with the CLI)");
            made = Some((count, template.clone()));
            Ok(template)
        });
        templates.push((count, template));
    }
    for (count, template) in templates {
        let section = template.and_then(|t| measure(&mut l, &b.counts, &t, count));
        match section {
            Ok(rows) => {
                for (figure, value, conditions) in rows {
                    b.row(figure, value, conditions);
                }
            }
            Err(e) => {
                eprintln!("bench: desktop, {count} accounts: {e}");
                b.row(
                    format!("App: {count} accounts"),
                    "not measured",
                    format!("{e} (see target/bench/desktop-app.log)"),
                );
            }
        }
    }
}

/// One launch of an app in its own process group.
struct App {
    child: Child,
    data_dir: PathBuf,
    window: Window,
}

impl App {
    fn processes(&self) -> Vec<(String, u64)> {
        procs::tree(self.child.id())
            .into_iter()
            .map(|p| (procs::process_name(p), procs::pss_kib(p).unwrap_or(0)))
            .collect()
    }

    fn has_process(&self, name: &str) -> bool {
        procs::tree(self.child.id())
            .into_iter()
            .any(|p| procs::process_name(p) == name)
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

/// Exec → window mapped and exec → first paint, in ms.
#[derive(Clone, Copy)]
struct Shown {
    mapped_ms: f64,
    painted_ms: f64,
}

struct Launcher {
    release: PathBuf,
    tmp: PathBuf,
    x: Display,
    log: File,
    failed: Vec<String>,
}

impl Launcher {
    fn command(&self, subject: &Subject, data_dir: &Path) -> Result<Command, String> {
        let out = self.log.try_clone().map_err(|e| e.to_string())?;
        let err = self.log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(self.release.join(subject.binary));
        cmd.env("LANYARD_DATA_DIR", data_dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if std::env::var_os("LANYARD_SECRET_STORE").is_none() {
            cmd.env("LANYARD_SECRET_STORE", "keyring");
        }
        Ok(cmd)
    }

    /// Starts the app on a fresh data dir (a copy of `template`, if any) and waits for its
    /// window's first paint. A launch that fails is logged, counted and tried once more.
    fn launch(
        &mut self,
        subject: &Subject,
        tag: &str,
        template: Option<&Path>,
    ) -> Result<(App, Shown), String> {
        let mut last = String::new();
        for attempt in 1..=2 {
            let data_dir = self.tmp.join(format!("{}-{tag}-{attempt}", subject.binary));
            match template {
                Some(t) => copy_dir(t, &data_dir),
                None => std::fs::create_dir_all(&data_dir),
            }
            .map_err(|e| format!("{}: {e}", data_dir.display()))?;
            let _ = writeln!(self.log, "--- {} {tag} (attempt {attempt})", subject.name);
            match self.start(subject, &data_dir) {
                Ok(ok) => return Ok(ok),
                Err(e) => {
                    eprintln!("[desktop] {} {tag} failed: {e}", subject.name);
                    self.failed.push(format!("{} {tag}: {e}", subject.name));
                    last = e;
                }
            }
        }
        Err(last)
    }

    fn start(&mut self, subject: &Subject, data_dir: &Path) -> Result<(App, Shown), String> {
        let mut cmd = self.command(subject, data_dir)?;
        self.x.discard_events();
        let t0 = Instant::now();
        let mut child =
            procs::spawn_group(&mut cmd).map_err(|e| format!("start {}: {e}", subject.binary))?;
        let mapped = self
            .x
            .wait_mapped(subject.title, WINDOW_TIMEOUT, || match child.try_wait() {
                Ok(Some(status)) => Err(format!(
                    "{} exited with {status} before its window was mapped",
                    subject.binary
                )),
                _ => Ok(()),
            });
        let mapped_ms = ms_since(t0);
        let mut app = App {
            child,
            data_dir: data_dir.to_owned(),
            window: 0,
        };
        let painted = mapped.and_then(|window| {
            app.window = window;
            self.x.wait_painted(window, WINDOW_TIMEOUT)
        });
        if let Err(e) = painted {
            app.stop();
            return Err(e);
        }
        let shown = Shown {
            mapped_ms,
            painted_ms: ms_since(t0),
        };
        Ok((app, shown))
    }

    /// Closes the window as a person does and waits until it is gone and, if the app takes it
    /// down, until the WebKit web process has exited. Answers whether that process went away.
    fn close_to_tray(&mut self, app: &mut App, subject: &Subject) -> Result<bool, String> {
        self.x.request_close(app.window)?;
        self.x.wait_gone(subject.title, Duration::from_secs(10))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let web_gone = loop {
            if !app.has_process(WEB_PROCESS) {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Ok(Some(status)) = app.child.try_wait() {
            return Err(format!(
                "{} exited ({status}) when its window was closed",
                subject.binary
            ));
        }
        Ok(web_gone)
    }

    /// A second launch of the app, which hands over to the running one: exec → the running
    /// app's window mapped and painted again.
    fn reopen(&mut self, app: &mut App, subject: &Subject) -> Result<Shown, String> {
        let mut cmd = self.command(subject, &app.data_dir)?;
        let _ = writeln!(self.log, "--- {} second launch", subject.name);
        self.x.discard_events();
        let t0 = Instant::now();
        let mut second = procs::spawn_group(&mut cmd)
            .map_err(|e| format!("start a second {}: {e}", subject.binary))?;
        let window = self.x.wait_mapped(subject.title, WINDOW_TIMEOUT, || Ok(()));
        let mapped_ms = ms_since(t0);
        let painted = window.and_then(|w| {
            app.window = w;
            self.x.wait_painted(w, WINDOW_TIMEOUT)
        });
        let painted_ms = ms_since(t0);
        // The second launch exits once it has handed over.
        let deadline = Instant::now() + Duration::from_secs(10);
        let handed_over = loop {
            match second.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => break Err(()),
            }
        };
        procs::stop_group(second.id() as i32);
        let _ = second.wait();
        painted?;
        match handed_over {
            Ok(status) if status.success() => Ok(Shown {
                mapped_ms,
                painted_ms,
            }),
            Ok(status) => Err(format!("the second launch exited with {status}")),
            Err(()) => {
                Err("the second launch was still running 10 s after the window came back".into())
            }
        }
    }
}

fn ms_since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1000.0
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

/// The first accounts are signed in, as lanyard-sim's seeded users of SSCMS, Steedos, CoolKit and
/// SiYuan (the services of accounts 0 to 3, in `make_accounts`' order), so that some rows count
/// down (in minutes, as sessions of days do); the rest are signed out. Log-in name, password.
const SIGNED_IN: [(&str, &str); 4] = [
    ("demo", "demo1234"),
    ("alice@example.com", "secret123"),
    ("alice@example.com", "secret123"),
    ("alice", "secret123"),
];

/// Adds accounts `from..to` to the data dir `dir` (`lanyard add --no-login`: signed out, spread
/// over the five services; the first ones signed in, [`SIGNED_IN`]) and checks the dir then holds
/// `to`. Answers the seconds it took.
fn make_accounts(
    b: &Bench,
    sim: &SimProcess,
    dir: &Path,
    from: usize,
    to: usize,
) -> Result<f64, String> {
    let e = &sim.endpoints;
    let t0 = Instant::now();
    for i in from..to {
        let signed_in = SIGNED_IN.get(i).copied();
        let (user, email) = match signed_in {
            Some((login, _)) => (login.to_string(), login.to_string()),
            None => (format!("bench{i:04}"), format!("bench{i:04}@example.com")),
        };
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
        let mut add = Command::new(b.bin("lanyard"));
        add.arg("--data-dir").arg(dir).arg("add").args(&args);
        let out = if let Some((_, password)) = signed_in {
            procs::output_with_stdin(
                add.arg("--password-stdin"),
                format!("{password}\n").as_bytes(),
            )
        } else {
            add.arg("--no-login").stdin(Stdio::null()).output()
        }
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
    if n != to {
        return Err(format!(
            "expected {to} accounts in the template, `lanyard list` shows {n}"
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

fn total_kib(procs: &[(String, u64)]) -> u64 {
    procs.iter().map(|(_, k)| k).sum()
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

/// `a / b` as `1.52x`.
fn ratio(a: f64, b: f64) -> String {
    format!("{:.2}x", a / b)
}

/// `value = 1.52x floor (floor_value)`; a floor of zero (no CPU clock tick) has no ratio.
fn vs(value: String, a: f64, b: f64, floor: &str, floor_value: String) -> String {
    if b > 0.0 {
        format!("{value} = {} {floor} ({floor_value})", ratio(a, b))
    } else {
        format!("{value}; {floor} {floor_value}, no ratio")
    }
}

fn cpu_pct(c: &CpuUse) -> String {
    format!("{:.2} % of a core", c.pct_of_one_core())
}

/// How many processes, and their CPU seconds by name, largest first.
fn cpu_by_name(c: &CpuUse) -> String {
    let mut by: Vec<_> = c.by_process.iter().collect();
    by.sort_by(|a, b| b.1.total_cmp(a.1));
    let by = by
        .iter()
        .map(|(n, s)| format!("{n} {s:.2} s"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{} processes: {by}", c.processes)
}

fn spread(s: &Summary) -> String {
    format!("min {}, max {}", fmt_ms(s.min), fmt_ms(s.max))
}

/// A figure's rows: (figure, value, conditions).
type Rows = Vec<(String, String, String)>;

/// One account count: start-up launches in turn, then each app's memory and idle CPU, then
/// Lanyard closed to the tray and reopened.
fn measure(
    l: &mut Launcher,
    counts: &crate::Counts,
    template: &Path,
    accounts: usize,
) -> Result<Rows, String> {
    let load_start = procs::loadavg();
    let launches = counts.app_launches;
    let idle = Duration::from_secs_f64(counts.app_idle_secs);
    let cpu_secs = counts.app_cpu_secs;
    let failed_before = l.failed.len();

    // Start-up, floor and Lanyard in turn.
    let mut floor_starts = Vec::new();
    let mut app_starts = Vec::new();
    for i in 0..WARMUP + launches {
        for (subject, into) in [(&FLOOR, &mut floor_starts), (&LANYARD, &mut app_starts)] {
            let tag = format!("{accounts}-startup-{i}");
            let data = (subject.binary == LANYARD.binary).then_some(template);
            let (app, shown) = l.launch(subject, &tag, data)?;
            std::thread::sleep(SETTLE);
            app.stop();
            let warm = if i < WARMUP {
                " (warm-up, discarded)"
            } else {
                ""
            };
            eprintln!(
                "[desktop] {accounts} accounts, {} launch {i}: mapped {:.0} ms, painted {:.0} ms{warm}",
                subject.name, shown.mapped_ms, shown.painted_ms
            );
            if i >= WARMUP {
                into.push(shown);
            }
        }
    }

    // The floor at rest.
    let (floor, _) = l.launch(&FLOOR, &format!("{accounts}-rest"), None)?;
    std::thread::sleep(idle);
    let floor_mem = floor.processes();
    eprintln!("[desktop] floor: idle CPU over {cpu_secs} s ...");
    let floor_cpu = procs::measure_cpu(floor.child.id(), cpu_secs);
    floor.stop();

    // Lanyard at rest, window shown.
    let (mut app, _) = l.launch(&LANYARD, &format!("{accounts}-rest"), Some(template))?;
    std::thread::sleep(idle);
    let app_mem = app.processes();
    let opened = app.opened_data_dir();
    eprintln!("[desktop] Lanyard, window shown: idle CPU over {cpu_secs} s ...");
    let app_cpu = procs::measure_cpu(app.child.id(), cpu_secs);

    // Closed to the tray, then brought back by a second launch, a few times.
    let closed = (|| {
        let web_gone = l.close_to_tray(&mut app, &LANYARD)?;
        std::thread::sleep(idle);
        let tray_mem = app.processes();
        eprintln!("[desktop] Lanyard, closed to the tray: idle CPU over {cpu_secs} s ...");
        let tray_cpu = procs::measure_cpu(app.child.id(), cpu_secs);
        let mut reopens = Vec::new();
        for i in 0..counts.app_reopens {
            if i > 0 {
                l.close_to_tray(&mut app, &LANYARD)?;
            }
            let shown = l.reopen(&mut app, &LANYARD)?;
            eprintln!(
                "[desktop] reopen {i}: mapped {:.0} ms, painted {:.0} ms",
                shown.mapped_ms, shown.painted_ms
            );
            reopens.push(shown);
            std::thread::sleep(SETTLE);
        }
        Ok::<_, String>((web_gone, tray_mem, tray_cpu, reopens))
    })();
    app.stop();
    let (web_gone, tray_mem, tray_cpu, reopens) = closed?;
    let load_end = procs::loadavg();

    // The rows.
    let failed = l.failed.len() - failed_before;
    let failed_note = if failed > 0 {
        format!("; {failed} launch(es) failed and were retried (desktop-app.log)")
    } else {
        String::new()
    };
    let store = std::env::var("LANYARD_SECRET_STORE").unwrap_or_else(|_| "keyring".into());
    let load = format!("load {load_start} at the start of this count, {load_end} at its end");
    let env = format!(
        "{accounts} accounts over 5 services: {} signed in on lanyard-sim and counting down in \
         minutes, the rest signed out (`lanyard add --no-login`); \
         LANYARD_SECRET_STORE={store}; {load}",
        SIGNED_IN.len()
    );
    let mut rows = Rows::new();
    let series =
        |v: &[Shown], f: fn(&Shown) -> f64| summarize(&v.iter().map(f).collect::<Vec<_>>());
    let mapped = |s: &Shown| s.mapped_ms;
    let painted = |s: &Shown| s.painted_ms;
    let (fm, am) = (series(&floor_starts, mapped), series(&app_starts, mapped));
    let (fp, ap) = (series(&floor_starts, painted), series(&app_starts, painted));
    for (what, how, f, a) in [
        (
            "exec -> window mapped",
            "the X server's MapNotify",
            &fm,
            &am,
        ),
        (
            "exec -> first paint",
            "the window first holding more than one colour (read every 10 ms after it is mapped)",
            &fp,
            &ap,
        ),
    ] {
        rows.push((
            format!("App: start-up, {what}, {accounts} accounts"),
            vs(fmt_ms(a.median), a.median, f.median, "floor", fmt_ms(f.median)),
            format!(
                "medians of {} launches each after {WARMUP} warm-up, floor and Lanyard in turn{failed_note}; \
                 Lanyard {}, floor {}; {how}; {env}",
                a.n,
                spread(a),
                spread(f)
            ),
        ));
    }
    let (floor_kib, app_kib, tray_kib) = (
        total_kib(&floor_mem),
        total_kib(&app_mem),
        total_kib(&tray_mem),
    );
    let goal = match accounts {
        200 => " (goal: 1.3x or less)",
        1000 => " (goal: 1.5x or less)",
        _ => "",
    };
    rows.push((
        format!("App: memory (PSS), window shown, {accounts} accounts"),
        vs(
            mib(app_kib),
            app_kib as f64,
            floor_kib as f64,
            "floor",
            mib(floor_kib),
        ) + goal,
        format!(
            "sum of /proc/PID/smaps_rollup Pss over the process tree after {:.0} s idle; Lanyard \
             {} processes ({}), data dir open: {}; floor {} processes ({}); {env}",
            idle.as_secs_f64(),
            app_mem.len(),
            by_name(&app_mem),
            if opened { "yes" } else { "no" },
            floor_mem.len(),
            by_name(&floor_mem)
        ),
    ));
    rows.push((
        format!("App: idle CPU, window shown, {accounts} accounts"),
        vs(
            cpu_pct(&app_cpu),
            app_cpu.cpu_s / app_cpu.wall_s,
            floor_cpu.cpu_s / floor_cpu.wall_s,
            "floor",
            cpu_pct(&floor_cpu),
        ),
        format!(
            "utime+stime from /proc/PID/stat over the process tree for {:.0} s, window mapped, \
             no input; Lanyard {:.2} s ({}), floor {:.2} s ({}); {env}",
            app_cpu.wall_s,
            app_cpu.cpu_s,
            cpu_by_name(&app_cpu),
            floor_cpu.cpu_s,
            cpu_by_name(&floor_cpu)
        ),
    ));
    let web = if web_gone {
        format!("{WEB_PROCESS} gone")
    } else {
        format!("{WEB_PROCESS} still running 10 s after the close")
    };
    rows.push((
        format!("App: closed to the tray, {accounts} accounts"),
        format!(
            "{}; {}",
            vs(
                format!("{} PSS", mib(tray_kib)),
                tray_kib as f64,
                floor_kib as f64,
                "floor shown",
                mib(floor_kib),
            ),
            vs(
                cpu_pct(&tray_cpu),
                tray_cpu.cpu_s / tray_cpu.wall_s,
                floor_cpu.cpu_s / floor_cpu.wall_s,
                "floor shown",
                cpu_pct(&floor_cpu),
            )
        ),
        format!(
            "window closed with WM_DELETE_WINDOW (a window manager's close button), {web}; PSS \
             after {:.0} s, {} processes ({}) (goal: 100 MiB or less); CPU over {:.0} s: {:.2} s \
             ({}); {env}",
            idle.as_secs_f64(),
            tray_mem.len(),
            by_name(&tray_mem),
            tray_cpu.wall_s,
            tray_cpu.cpu_s,
            cpu_by_name(&tray_cpu)
        ),
    ));
    let (rm, rp) = (series(&reopens, mapped), series(&reopens, painted));
    let mut reopen_value = String::new();
    let _ = write!(
        reopen_value,
        "mapped {} = {} cold start, painted {} = {} cold start",
        fmt_ms(rm.median),
        ratio(rm.median, am.median),
        fmt_ms(rp.median),
        ratio(rp.median, ap.median)
    );
    rows.push((
        format!("App: reopen from the tray, {accounts} accounts"),
        reopen_value,
        format!(
            "a second launch of lanyard-desktop (it hands over to the running app and exits), \
             exec -> the window mapped / first painted again; medians of {} (each after a close \
             to the tray), mapped {}, painted {}; cold start = Lanyard's start-up medians above \
             (goal: 1.5x or less); floor's start-up: mapped {}, painted {}; {env}",
            rm.n,
            spread(&rm),
            spread(&rp),
            fmt_ms(fm.median),
            fmt_ms(fp.median)
        ),
    ));
    Ok(rows)
}
