//! The processes the bench starts (each in its own process group, all stopped at the end) and
//! what `/proc` says about them: CPU time, PSS, the process tree.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Process groups started and not yet stopped.
static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Runs `cmd` to its end with `input` on its stdin (a password for `--password-stdin`),
/// answering its output.
pub fn output_with_stdin(cmd: &mut Command, input: &[u8]) -> std::io::Result<Output> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().expect("piped stdin").write_all(input)?;
    child.wait_with_output()
}

/// Starts `cmd` as the leader of a new process group, remembered for [`stop_all`].
pub fn spawn_group(cmd: &mut Command) -> std::io::Result<Child> {
    let child = cmd.process_group(0).spawn()?;
    GROUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(child.id() as i32);
    Ok(child)
}

fn group_alive(pgid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence.
    unsafe { libc::killpg(pgid, 0) == 0 }
}

/// SIGTERM to the group, up to 5 s of grace, then SIGKILL.
pub fn stop_group(pgid: i32) {
    // SAFETY: signals to a process group this program started.
    unsafe { libc::killpg(pgid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while group_alive(pgid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if group_alive(pgid) {
        // SAFETY: as above.
        unsafe { libc::killpg(pgid, libc::SIGKILL) };
    }
    GROUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|&g| g != pgid);
}

/// Stops every group still running (at the end, and on Ctrl-C).
pub fn stop_all() {
    let groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for g in groups {
        stop_group(g);
    }
}

/// SIGTERM to one process.
pub fn terminate(pid: u32) {
    // SAFETY: a signal to a child this program started.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
}

/// (ppid, utime+stime ticks, comm) of a live process.
pub fn stat(pid: u32) -> Option<(u32, u64, String)> {
    let raw = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = raw.find('(')?;
    let close = raw.rfind(')')?;
    let comm = raw[open + 1..close].to_owned();
    let rest: Vec<&str> = raw[close + 2..].split_whitespace().collect();
    // rest[0] is field 3 (state); ppid is field 4, utime and stime fields 14 and 15.
    let ppid = rest.get(1)?.parse().ok()?;
    let ticks = rest.get(11)?.parse::<u64>().ok()? + rest.get(12)?.parse::<u64>().ok()?;
    Some((ppid, ticks, comm))
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `root` and its live descendants.
pub fn tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for pid in all_pids() {
        if let Some((ppid, _, _)) = stat(pid) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let (mut out, mut todo) = (Vec::new(), vec![root]);
    while let Some(p) = todo.pop() {
        if stat(p).is_none() {
            continue;
        }
        out.push(p);
        todo.extend(children.get(&p).into_iter().flatten());
    }
    out
}

/// argv[0]'s base name (comm is cut at 15 characters: `WebKitWebProces`).
pub fn process_name(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .and_then(|raw| {
            let first = raw.split(|&b| b == 0).next()?;
            let name = String::from_utf8_lossy(first)
                .rsplit('/')
                .next()?
                .to_owned();
            (!name.is_empty()).then_some(name)
        })
        .or_else(|| stat(pid).map(|s| s.2))
        .unwrap_or_else(|| "?".into())
}

/// Proportional set size in KiB.
pub fn pss_kib(pid: u32) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// CPU used by a process tree over a while.
#[derive(Debug, Clone)]
pub struct CpuUse {
    pub cpu_s: f64,
    pub wall_s: f64,
    pub processes: usize,
    pub by_process: BTreeMap<String, f64>,
}

impl CpuUse {
    pub fn pct_of_one_core(&self) -> f64 {
        100.0 * self.cpu_s / self.wall_s
    }
}

/// CPU time of `root`'s tree (processes that appear meanwhile included, each counted up to
/// its last sample) over `secs`, sampled every second.
pub fn measure_cpu(root: u32, secs: f64) -> CpuUse {
    let ticks = |pids: &[u32]| -> HashMap<u32, u64> {
        pids.iter().filter_map(|&p| Some((p, stat(p)?.1))).collect()
    };
    let before = ticks(&tree(root));
    let mut seen = before.clone();
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(secs);
    while Instant::now() < deadline {
        std::thread::sleep((deadline - Instant::now()).min(Duration::from_secs(1)));
        seen.extend(ticks(&tree(root)));
    }
    let wall_s = t0.elapsed().as_secs_f64();
    let hz = clock_ticks();
    let mut by_process = BTreeMap::new();
    let mut used = 0u64;
    for (&p, &t) in &seen {
        let d = t.saturating_sub(before.get(&p).copied().unwrap_or(0));
        used += d;
        *by_process.entry(process_name(p)).or_insert(0.0) += d as f64 / hz;
    }
    CpuUse {
        cpu_s: used as f64 / hz,
        wall_s,
        processes: seen.len(),
        by_process,
    }
}

/// The 1-, 5- and 15-minute load averages, as the kernel writes them.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The 1-minute load average.
pub fn load1() -> f64 {
    loadavg()
        .split(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Compiler and linker processes running now (other people's builds skew the figures).
pub fn compilers() -> usize {
    const NAMES: [&str; 6] = ["rustc", "cc1", "cc1plus", "ld", "rust-lld", "node"];
    all_pids()
        .into_iter()
        .filter_map(stat)
        .filter(|(_, _, comm)| NAMES.contains(&comm.as_str()))
        .count()
}
