//! Timing runs and summarising them. Nothing here judges a number.

use std::process::{Command, Stdio};
use std::time::Instant;

/// Summary of one series of milliseconds.
#[derive(Debug, Clone)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub p90: f64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

/// Nearest-rank percentile (`p` in 0..=100) of a sorted, non-empty slice, rounding half to even
/// as the earlier Python harness did, so its p90 figures compare with these.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = (p / 100.0 * sorted.len() as f64 + 0.5).round_ties_even() as isize - 1;
    sorted[rank.clamp(0, sorted.len() as isize - 1) as usize]
}

pub fn summarize(values: &[f64]) -> Summary {
    assert!(!values.is_empty(), "no values to summarise");
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    Summary {
        n,
        median,
        p90: percentile(&s, 90.0),
        mean: s.iter().sum::<f64>() / n as f64,
        min: s[0],
        max: s[n - 1],
    }
}

pub fn fmt_ms(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.0} ms")
    }
}

pub fn fmt_summary(s: &Summary) -> String {
    format!(
        "median {}, p90 {}, mean {}",
        fmt_ms(s.median),
        fmt_ms(s.p90),
        fmt_ms(s.mean)
    )
}

/// `a` median over `b` median, and the difference.
pub fn fmt_ratio(a: &Summary, b: &Summary) -> String {
    format!(
        "{:.2}x median ({:+.1} ms)",
        a.median / b.median,
        a.median - b.median
    )
}

/// Wall time of one run of `cmd` (stdin, stdout and stderr on /dev/null), exec to exit, in ms.
/// A non-zero exit is an error: a failing command is not a measurement.
pub fn time_once(cmd: &mut Command) -> Result<f64, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let t0 = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    if !status.success() {
        return Err(format!("{:?} exited with {status}", cmd.get_program()));
    }
    Ok(ms)
}

/// Times every command `warmup + runs` times, taking them in turn (A B C A B C ...) so a change
/// in the machine's load touches all of them alike; warm-up rounds are discarded. Answers the
/// milliseconds of each command's measured runs.
pub fn time_alternately(
    commands: &mut [Command],
    warmup: usize,
    runs: usize,
) -> Result<Vec<Vec<f64>>, String> {
    let mut times = vec![Vec::with_capacity(runs); commands.len()];
    for round in 0..warmup + runs {
        for (i, cmd) in commands.iter_mut().enumerate() {
            let ms = time_once(cmd)?;
            if round >= warmup {
                times[i].push(ms);
            }
        }
    }
    Ok(times)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_matches_the_nearest_rank_definition() {
        let s = summarize(&[5.0, 1.0, 4.0, 2.0, 3.0, 10.0, 7.0, 8.0, 9.0, 6.0]);
        assert_eq!(
            (s.n, s.median, s.p90, s.min, s.max),
            (10, 5.5, 10.0, 1.0, 10.0)
        );
        assert_eq!(s.mean, 5.5);
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(summarize(&hundred).p90, 90.0);
        assert_eq!(summarize(&[3.0]).p90, 3.0);
    }

    #[test]
    fn ratios_and_milliseconds_read_like_the_table() {
        let a = summarize(&[24.0]);
        let b = summarize(&[8.0]);
        assert_eq!(fmt_ratio(&a, &b), "3.00x median (+16.0 ms)");
        assert_eq!(fmt_ms(7.94), "7.9 ms");
        assert_eq!(fmt_ms(141.4), "141 ms");
    }
}
