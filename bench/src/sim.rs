//! The simulator: start-up (exec → endpoint line on stdout), shutdown (SIGTERM → exit), and
//! SSCMS v6 logins/s from the `login_load` example against a fresh `lanyard-sim` process.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::stats::{fmt_summary, summarize};
use crate::{Bench, SimProcess, procs};

const WARMUP: usize = 2;

pub fn run(b: &mut Bench) {
    eprintln!(
        "\n==> simulator start-up and shutdown ({} runs)",
        b.counts.sim_runs
    );
    let load = procs::loadavg();
    match startup_and_shutdown(b) {
        Ok((startup, shutdown)) => {
            let (s, d) = (summarize(&startup), summarize(&shutdown));
            b.row(
                "Sim: start-up (exec -> endpoint line)",
                fmt_summary(&s),
                format!(
                    "release lanyard-sim, all 5 simulators, ephemeral ports; {} runs after \
                     {WARMUP} warm-up; load {load}",
                    s.n
                ),
            );
            b.row(
                "Sim: shutdown (SIGTERM -> exit)",
                fmt_summary(&d),
                "same runs, no open connections",
            );
        }
        Err(e) => b.row("Sim: start-up (exec -> endpoint line)", "not measured", e),
    }

    eprintln!(
        "\n==> SSCMS logins/s: {} s at concurrency {} against a fresh lanyard-sim",
        b.counts.load_secs, b.counts.load_concurrency
    );
    if let Err(e) = login_load(b) {
        b.row("Sim: SSCMS v6 logins/s", "not measured", e);
    }
}

fn startup_and_shutdown(b: &Bench) -> Result<(Vec<f64>, Vec<f64>), String> {
    let (mut startup, mut shutdown) = (Vec::new(), Vec::new());
    for i in 0..WARMUP + b.counts.sim_runs {
        let t0 = Instant::now();
        let mut child = procs::spawn_group(
            Command::new(b.bin("lanyard-sim"))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        )
        .map_err(|e| format!("start lanyard-sim: {e}"))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let t1 = Instant::now();
        if serde_json::from_str::<lanyard_sim::Endpoints>(&line).is_err() {
            procs::stop_group(child.id() as i32);
            return Err(format!("unexpected endpoint line {line:?}"));
        }
        let t2 = Instant::now();
        procs::terminate(child.id());
        child.wait().map_err(|e| e.to_string())?;
        let t3 = Instant::now();
        procs::stop_group(child.id() as i32);
        if i >= WARMUP {
            startup.push((t1 - t0).as_secs_f64() * 1000.0);
            shutdown.push((t3 - t2).as_secs_f64() * 1000.0);
        }
    }
    Ok((startup, shutdown))
}

/// The figures of `login_load`'s one line: `N ok, E errors in S s, concurrency C => R logins/s;
/// latency p50 X ms, p99 Y ms`.
struct LoadLine {
    ok: String,
    errors: String,
    secs: String,
    concurrency: String,
    rate: String,
    p50: String,
    p99: String,
}

fn parse_load_line(line: &str) -> Option<LoadLine> {
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    let after = |word: &str| {
        let i = words.iter().position(|w| *w == word)?;
        words.get(i + 1).map(|s| s.to_string())
    };
    let before = |word: &str| {
        let i = words.iter().position(|w| *w == word)?;
        words.get(i.checked_sub(1)?).map(|s| s.to_string())
    };
    Some(LoadLine {
        ok: before("ok")?,
        errors: before("errors")?,
        secs: after("in")?,
        concurrency: after("concurrency")?,
        rate: before("logins/s")?,
        p50: after("p50")?,
        p99: after("p99")?,
    })
}

fn login_load(b: &mut Bench) -> Result<(), String> {
    let example = b.release.join("examples").join("login_load");
    if !example.is_file() {
        return Err(format!("{} is not built", example.display()));
    }
    let sim = SimProcess::start(&b.bin("lanyard-sim"))?;
    let load = procs::loadavg();
    let secs = b.counts.load_secs;
    let pid = sim.pid();
    let cpu = std::thread::spawn(move || procs::measure_cpu(pid, secs as f64));
    let out = Command::new(&example)
        .arg(&sim.endpoints.sscms)
        .arg(secs.to_string())
        .arg(b.counts.load_concurrency.to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", example.display()))?;
    let cpu = cpu.join().map_err(|_| "the CPU sampler failed")?;
    drop(sim);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default().trim().to_owned();
    eprintln!("{line}");
    if !out.status.success() {
        return Err(format!("login_load exited with {}: {line}", out.status));
    }
    let Some(l) = parse_load_line(&line) else {
        b.row("Sim: SSCMS logins/s", "unparsed", line);
        return Ok(());
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    b.row(
        "Sim: SSCMS v6 logins/s",
        format!("{}/s (p50 {} ms, p99 {} ms)", l.rate, l.p50, l.p99),
        format!(
            "{} ok / {} errors in {} s, concurrency {}, keep-alive connections, loopback; \
             release lanyard-sim (separate process) + release login_load example (reqwest) on \
             the same {cores} cores; sim used {:.0}% of one core; load {load}",
            l.ok,
            l.errors,
            l.secs,
            l.concurrency,
            cpu.pct_of_one_core()
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_load_line_is_read_word_by_word() {
        let l = parse_load_line(
            "51234 ok, 0 errors in 10.0 s, concurrency 16 => 5123 logins/s; latency p50 2.9 ms, p99 7.1 ms",
        )
        .expect("parsed");
        assert_eq!(
            [l.ok, l.errors, l.secs, l.concurrency, l.rate, l.p50, l.p99],
            ["51234", "0", "10.0", "16", "5123", "2.9", "7.1"]
        );
        assert!(parse_load_line("something else").is_none());
    }
}
